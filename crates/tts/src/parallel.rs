//! Utterances spoken on several threads at once and delivered in their order. A voice model
//! run on a sentence or two parallelises poorly inside ONNX Runtime (much of the graph is
//! sequential and each operator too small to split), so each core runs a whole utterance on
//! its own single-threaded session instead, and the output is reassembled in text order.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// How many finished results may wait for an earlier one, per worker: bounds memory to a few
/// utterances whatever the text's length, while a long utterance does not stall the others.
const AHEAD_PER_WORKER: usize = 2;

struct Queue<I> {
    jobs: I,
    /// Jobs handed out so far.
    taken: usize,
    /// Results delivered so far.
    delivered: usize,
    /// The delivery failed or ended: take no more jobs.
    stop: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` on every job, one thread per state in `states` (each worker owns one state,
/// e.g. its buffers), and hands the results to `deliver` on the calling thread in the jobs'
/// order. The first error, in job order, stops everything and is returned; jobs under way
/// finish first. With one state no thread is started.
pub(crate) fn in_order<J, R, S, E>(
    jobs: impl IntoIterator<Item = J, IntoIter: Send>,
    states: Vec<S>,
    work: impl Fn(&mut S, usize, J) -> Result<R, E> + Sync,
    mut deliver: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    J: Send,
    R: Send,
    S: Send,
    E: Send,
{
    let workers = states.len();
    if workers <= 1 {
        let mut states = states;
        let Some(state) = states.first_mut() else {
            return Ok(());
        };
        for (index, job) in jobs.into_iter().enumerate() {
            deliver(work(state, index, job)?)?;
        }
        return Ok(());
    }
    let window = workers * AHEAD_PER_WORKER;
    let queue = Mutex::new(Queue {
        jobs: jobs.into_iter(),
        taken: 0,
        delivered: 0,
        stop: false,
    });
    let room = Condvar::new();
    let (sender, results) = mpsc::channel::<(usize, Result<R, E>)>();
    std::thread::scope(|scope| {
        for mut state in states {
            let sender = sender.clone();
            let (queue, room, work) = (&queue, &room, &work);
            scope.spawn(move || loop {
                let (index, job) = {
                    let mut queue = lock(queue);
                    while !queue.stop && queue.taken >= queue.delivered + window {
                        queue = room.wait(queue).unwrap_or_else(PoisonError::into_inner);
                    }
                    if queue.stop {
                        return;
                    }
                    let Some(job) = queue.jobs.next() else {
                        return;
                    };
                    queue.taken += 1;
                    (queue.taken - 1, job)
                };
                let result = work(&mut state, index, job);
                let failed = result.is_err();
                if sender.send((index, result)).is_err() || failed {
                    return;
                }
            });
        }
        drop(sender);
        let mut waiting = BTreeMap::new();
        let mut outcome = Ok(());
        'receive: for (index, result) in &results {
            waiting.insert(index, result);
            let mut delivered = lock(&queue).delivered;
            while let Some(result) = waiting.remove(&delivered) {
                if let Err(error) = result.and_then(&mut deliver) {
                    outcome = Err(error);
                    break 'receive;
                }
                delivered += 1;
                lock(&queue).delivered = delivered;
                room.notify_all();
            }
        }
        lock(&queue).stop = true;
        room.notify_all();
        drop(results);
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_arrive_in_job_order_whatever_finishes_first() {
        let mut out = Vec::new();
        // Early jobs take longest, so later ones finish first.
        let result: Result<(), ()> = in_order(
            0..12u64,
            vec![(); 3],
            |_, index, job| {
                std::thread::sleep(Duration::from_millis(12 - job));
                Ok((index, job * 10))
            },
            |value| {
                out.push(value);
                Ok(())
            },
        );
        assert_eq!(result, Ok(()));
        let expected: Vec<(usize, u64)> = (0..12).map(|i| (i as usize, i * 10)).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn each_worker_keeps_its_own_state() {
        let mut total = 0;
        let result: Result<(), ()> = in_order(
            0..20,
            vec![0usize; 2],
            |calls, _, job: usize| {
                *calls += 1;
                Ok(job)
            },
            |job| {
                total += job;
                Ok(())
            },
        );
        assert_eq!(result, Ok(()));
        assert_eq!(total, (0..20).sum::<usize>());
    }

    #[test]
    fn the_first_error_in_job_order_wins_and_stops_the_rest() {
        let started = AtomicUsize::new(0);
        let mut delivered = Vec::new();
        let result = in_order(
            0..100,
            vec![(); 2],
            |_, _, job: usize| {
                started.fetch_add(1, Ordering::SeqCst);
                if job == 3 || job == 5 {
                    Err(format!("job {job} failed"))
                } else {
                    Ok(job)
                }
            },
            |job| {
                delivered.push(job);
                Ok(())
            },
        );
        assert_eq!(result, Err("job 3 failed".to_owned()));
        assert_eq!(delivered, [0, 1, 2]);
        // No worker runs further ahead than its window.
        assert!(started.load(Ordering::SeqCst) <= 3 + 2 * AHEAD_PER_WORKER + 2);
    }

    #[test]
    fn a_delivery_error_stops_the_workers() {
        let started = AtomicUsize::new(0);
        let result = in_order(
            0..1000,
            vec![(); 2],
            |_, _, job: usize| {
                started.fetch_add(1, Ordering::SeqCst);
                Ok(job)
            },
            |job| if job == 1 { Err("full disk") } else { Ok(()) },
        );
        assert_eq!(result, Err("full disk"));
        assert!(started.load(Ordering::SeqCst) < 20);
    }

    #[test]
    fn one_worker_runs_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let mut seen = Vec::new();
        let result: Result<(), ()> = in_order(
            ["a", "b"],
            vec![()],
            |_, _, job| {
                assert_eq!(std::thread::current().id(), caller);
                Ok(job)
            },
            |job| {
                seen.push(job);
                Ok(())
            },
        );
        assert_eq!(result, Ok(()));
        assert_eq!(seen, ["a", "b"]);
        let none: Result<(), ()> = in_order(0..3, Vec::<()>::new(), |_, _, j| Ok(j), |_| Ok(()));
        assert_eq!(none, Ok(()));
    }
}
