//! The JSON shapes that add to a row (the rows themselves serialise as the editor UI reads
//! them, see `models`): a project with its segment count or its segments, and DRF's
//! pagination envelope.

use actix_web::HttpRequest;
use serde::Serialize;

use crate::models::{Project, Segment};
use crate::repository::ProjectSummary;

/// DRF's page size; clients cannot change it.
pub const PAGE_SIZE: i64 = 50;

/// A project as lists show it.
#[derive(Debug, Serialize)]
pub struct ProjectJson<'a> {
    #[serde(flatten)]
    pub project: &'a Project,
    pub segment_count: i64,
}

impl<'a> From<&'a ProjectSummary> for ProjectJson<'a> {
    fn from(summary: &'a ProjectSummary) -> Self {
        Self {
            project: &summary.project,
            segment_count: summary.segment_count,
        }
    }
}

/// A project with its segments in order (no `segment_count`, as in DRF's detail serializer).
#[derive(Debug, Serialize)]
pub struct ProjectDetailJson<'a> {
    #[serde(flatten)]
    pub project: &'a Project,
    pub output_path: &'a Option<String>,
    pub segments: &'a [Segment],
}

impl<'a> ProjectDetailJson<'a> {
    pub fn new(project: &'a Project, segments: &'a [Segment]) -> Self {
        Self {
            project,
            output_path: &project.output_path,
            segments,
        }
    }
}

/// DRF's `{count, next, previous, results}` with absolute page links.
#[derive(Debug, Serialize)]
pub struct PageJson<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> PageJson<T> {
    /// `page` is 1-based; links keep the request's other query parameters.
    pub fn new(req: &HttpRequest, page: i64, count: i64, results: Vec<T>) -> Self {
        let last = last_page(count);
        Self {
            count,
            next: (page < last).then(|| page_link(req, Some(page + 1))),
            // Like DRF, the link to page 1 carries no page parameter.
            previous: (page > 1).then(|| page_link(req, (page > 2).then_some(page - 1))),
            results,
        }
    }
}

/// The number of pages; an empty list still has page 1.
pub fn last_page(count: i64) -> i64 {
    ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
}

fn page_link(req: &HttpRequest, page: Option<i64>) -> String {
    let info = req.connection_info();
    // The client's other parameters are kept as sent, still percent-encoded.
    let mut query: Vec<String> = req
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("page"))
        .map(str::to_owned)
        .collect();
    if let Some(page) = page {
        query.push(format!("page={page}"));
    }
    let mut link = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    if !query.is_empty() {
        link.push('?');
        link.push_str(&query.join("&"));
    }
    link
}
