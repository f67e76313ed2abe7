//! `GET /play/{sid}`: the session's latest audio streamed from disk with single-range `Range`
//! support, `Content-Length`, `ETag`/`Last-Modified` revalidation, and a busy guard that keeps the
//! cleanup task away while the file is being streamed. `?format=mp3` (opus, flac, pcm, wav)
//! transcodes the stored audio (whole, without `Range`).

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpRequest, HttpResponse};
use futures_util::stream;
use serde::Deserialize;
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use utoipa::IntoParams;

use crate::audio::AudioFormat;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::openapi::AudioBytes;
use crate::request::parse_session_id;
use crate::sessions::SessionStore;

const CHUNK: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(play);
}

/// Parse a single `bytes=` range against a file of `len` bytes. `Ok(None)`: no or ignorable
/// header (serve everything); `Err(())`: unsatisfiable.
fn parse_range(h: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
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

/// Request headers `/play` honours.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: the handler reads the headers itself
pub struct PlayHeaders {
    /// A single byte range, e.g. `bytes=0-1023` (several ranges: the whole file).
    #[param(rename = "Range", required = false)]
    range: String,
    /// An `ETag` from an earlier response: 304 when it still matches.
    #[param(rename = "If-None-Match", required = false)]
    if_none_match: String,
}

/// Query parameters of `/play`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlayQuery {
    /// Encoding to answer with: wav (as stored), mp3, opus (Ogg), flac or pcm (raw 16-bit LE).
    /// Another than the stored one is transcoded and sent whole (no `Range`).
    #[param(example = "mp3")]
    pub format: Option<String>,
}

/// The requested format (`None`: as stored).
fn requested_format(req: &HttpRequest) -> Result<Option<AudioFormat>, ApiError> {
    let q = web::Query::<PlayQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::InvalidParam(e.to_string()))?;
    q.format
        .as_deref()
        .map(AudioFormat::parse)
        .transpose()
        .map_err(ApiError::InvalidParam)
}

/// Decode the stored audio and encode it as `format`.
async fn transcode(path: std::path::PathBuf, format: AudioFormat) -> ApiResult<Vec<u8>> {
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::SessionNotFound)?;
    crate::synthesizer::blocking("encoder thread failed", move || {
        let limits = chatterbox::audio::DecodeLimits {
            max_duration_s: 24.0 * 3600.0,
            ..Default::default()
        };
        let audio = chatterbox::audio::decode(&bytes, &limits)
            .map_err(|e| ApiError::internal("could not read the stored audio", e))?;
        crate::audio::encode(&audio.samples, audio.sample_rate, format)
            .map(|(b, _)| b)
            .map_err(|e| ApiError::internal("could not encode the audio", e))
    })
    .await?
}

/// The session's latest audio (Range supported), in any format.
#[utoipa::path(
    get,
    path = "/play/{sid}",
    tag = "sessions",
    params(
        ("sid" = uuid::Uuid, Path, description = "The session id"),
        PlayQuery,
        PlayHeaders,
    ),
    responses(
        (status = 200, description = "The audio (audio/mpeg, audio/ogg, audio/flac or audio/pcm with ?format=)", content_type = "audio/wav", body = inline(AudioBytes),
            headers(
                ("Accept-Ranges" = String, description = "bytes"),
                ("Content-Length" = u64),
                ("ETag" = String),
                ("Last-Modified" = String),
                ("Cache-Control" = String, description = "no-cache"),
            )),
        (status = 206, description = "Part of the audio", content_type = "audio/wav", body = inline(AudioBytes),
            headers(
                ("Content-Range" = String, description = "bytes START-END/LENGTH"),
                ("Accept-Ranges" = String, description = "bytes"),
                ("Content-Length" = u64),
                ("ETag" = String),
                ("Last-Modified" = String),
                ("Cache-Control" = String, description = "no-cache"),
            )),
        (status = 304, description = "Not modified (If-None-Match)",
            headers(("ETag" = String))),
        (status = 400, description = "invalid_param (unknown format)", body = ErrorResponse),
        (status = 404, description = "session_not_found, audio_not_ready", body = ErrorResponse),
        (status = 416, description = "range_not_satisfiable", body = ErrorResponse,
            headers(("Content-Range" = String, description = "bytes */LENGTH"))),
    )
)]
#[get("/play/{sid}")]
pub async fn play(
    req: HttpRequest,
    sid: web::Path<String>,
    sessions: web::Data<SessionStore>,
) -> ApiResult<HttpResponse> {
    let format = requested_format(&req)?;
    let sid = parse_session_id(&sid).ok_or(ApiError::SessionNotFound)?;
    let meta = sessions.meta(&sid).ok_or(ApiError::SessionNotFound)?;
    if meta.generation == 0 {
        return Err(ApiError::AudioNotReady);
    }
    let busy = sessions.busy(&sid).ok_or(ApiError::SessionNotFound)?;
    let not_modified = |etag: &str| {
        req.headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    };
    if let Some(format) = format.filter(|f| *f != meta.format) {
        let etag = format!(
            "\"{}-{}-{}\"",
            meta.updated_at,
            meta.generation,
            format.extension()
        );
        if not_modified(&etag) {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, etag))
                .finish());
        }
        let bytes = transcode(sessions.audio_path(&sid, meta.format), format).await?;
        drop(busy);
        return Ok(HttpResponse::Ok()
            .content_type(format.content_type())
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::ETAG, etag))
            .body(bytes));
    }
    let mut file = tokio::fs::File::open(sessions.audio_path(&sid, meta.format))
        .await
        .map_err(|_| ApiError::SessionNotFound)?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal("could not read the audio", e))?
        .len();
    let etag = format!("\"{}-{}-{len}\"", meta.updated_at, meta.generation);
    let last_modified = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(meta.updated_at),
    );
    if not_modified(&etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let range = match req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => parse_range(h, len).map_err(|()| ApiError::RangeNotSatisfiable { len })?,
        None => None,
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| ApiError::internal("could not read the audio", e))?;
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
        let mut r = HttpResponse::build(StatusCode::PARTIAL_CONTENT);
        r.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")));
        r
    } else {
        HttpResponse::Ok()
    };
    Ok(resp
        .content_type(meta.format.content_type())
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
