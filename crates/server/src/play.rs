//! `GET /play/{sid}`: the session's WAV streamed from disk with single-range `Range` support,
//! `Content-Length`, `ETag`/`Last-Modified` revalidation, and a busy guard that keeps the cleanup
//! task away while the file is being streamed.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chatterbox::pipeline::Conditionals;
use futures_util::stream;
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::sessions::{Busy, SessionStore};

const CHUNK: usize = 64 * 1024;

/// Parse a single `bytes=` range against a file of `len` bytes. `Ok(None)`: no or ignorable
/// header (serve everything); `Err(())`: unsatisfiable.
pub fn parse_range(h: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file, as RFC 9110 allows
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        if start >= len || end < start {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

pub async fn serve(
    req: &HttpRequest,
    store: &std::sync::Arc<SessionStore<Conditionals>>,
    sid: Uuid,
) -> ApiResult<HttpResponse> {
    let meta = store.meta(&sid).ok_or_else(ApiError::session_not_found)?;
    if meta.generation == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "audio_not_ready",
            "this session has no audio yet",
        ));
    }
    let busy: Busy = store.busy(&sid).ok_or_else(ApiError::session_not_found)?;
    let path = store.wav_path(&sid);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::session_not_found())?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal(format!("stat failed: {e}")))?
        .len();
    let etag = format!("\"{}-{}-{len}\"", meta.updated_at, meta.generation);
    let last_modified = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(meta.updated_at),
    );
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let range = match req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(h) => match parse_range(h, len) {
            Ok(r) => r,
            Err(()) => {
                return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                    .json(serde_json::json!({"error": {"code": "range_not_satisfiable", "message": "requested range is outside the file"}})))
            }
        },
        None => None,
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| ApiError::internal(format!("seek failed: {e}")))?;
    let body = stream::unfold((file, count, busy), |(mut f, left, busy)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; CHUNK.min(left as usize)];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(web::Bytes::from(buf)),
                    (f, left - n as u64, busy),
                ))
            }
            Err(e) => Some((Err(e), (f, 0, busy))),
        }
    });
    let mut resp = if range.is_some() {
        let mut r = HttpResponse::PartialContent();
        r.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")));
        r
    } else {
        HttpResponse::Ok()
    };
    Ok(resp
        .content_type("audio/wav")
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, last_modified))
        .no_chunking(count)
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(parse_range("bytes=900-", 1000), Ok(Some((900, 999))));
        assert_eq!(parse_range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(parse_range("bytes=0-5000", 1000), Ok(Some((0, 999))));
        assert_eq!(parse_range("bytes=1000-", 1000), Err(()));
        assert_eq!(parse_range("bytes=5-1", 1000), Err(()));
        assert_eq!(parse_range("bytes=abc", 1000), Err(()));
        assert_eq!(parse_range("items=0-1", 1000), Ok(None));
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ok(None));
    }
}
