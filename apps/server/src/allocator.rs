//! How glibc's malloc treats the multi-megabyte blocks a render allocates and frees (decoded
//! pictures, their planes, the resampler's buffers).

/// glibc serves every block of at least its mmap threshold (128 KiB) from a mapping of its
/// own, unmapped when freed. But by default each such free raises the threshold to the freed
/// size (up to 32 MiB), after which pictures are carved out of the per-thread arenas, whose
/// freed holes stay resident: a 1080p render's RSS then creeps up by 10–20 MB, segment by
/// segment, and a long-running server's with every render. Setting the threshold, even to its
/// default, stops it sliding.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn return_large_blocks_to_the_system() {
    const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
    // SAFETY: mallopt only sets an allocator parameter; it takes no pointers and glibc
    // serialises it against allocations in other threads.
    if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) } != 1 {
        log::warn!("could not pin malloc's mmap threshold; peak memory may be higher");
    }
}

/// Other allocators do not slide a threshold; nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_blocks_to_the_system() {}
