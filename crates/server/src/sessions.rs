//! Sessions: on disk `<out>/<sid>.json` (the sidecar: metadata, written when the session is
//! created) and `<out>/<sid>.<format>` (the latest audio). Voices live apart, in
//! [`crate::voices::VoiceStore`].
//!
//! **The out directory is the source of truth; the in-memory map is a cache.** Several replicas
//! (processes, containers, ECS tasks on one EFS volume) may share the directory, and any of them
//! serves any session: every lookup reads the sidecar, so a session another replica created,
//! synthesised into or deleted is seen as it is on disk. What stays in memory is only what is
//! about this replica's own requests: the progress of a synthesis it is running and a count of the
//! requests using each session (a [`Busy`] guard).
//!
//! How replicas stay out of each other's way, with the file system's own atomic operations:
//! - Every file is written to a unique temporary name and renamed into place (`rename(2)` is
//!   atomic), audio first, then its sidecar: a reader sees the old or the new file, never a part.
//! - Age is the sidecar's mtime: written on create and on every stored synthesis, and touched when
//!   a synthesis starts and at every chunk, so a session another replica is synthesising into is
//!   never stale. Cleanup claims a stale session by renaming its sidecar to a unique grave name,
//!   re-checks the grave's mtime (a touch that raced in undoes the claim) and only then unlinks.
//!   A replica whose synthesis loses that race finds no sidecar and answers 404.
//! - A replica streaming `/play` holds the file open: unlinking (cleanup, delete, or the rename of
//!   a newer synthesis over it) removes the name, and POSIX keeps the open file readable to the
//!   end.
//! - Temporary files and orphans are removed only once they are older than the maximum age: a
//!   younger one may be another replica's write in progress.

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

use crate::audio::AudioFormat;

/// What is persisted beside each WAV (and `GET /sessions/{sid}` answers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SessionMeta {
    pub session_id: Uuid,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of the latest synthesis.
    pub updated_at: u64,
    /// Duration of the latest WAV in seconds (0 before the first synthesis finishes).
    pub duration: f64,
    pub sample_rate: u32,
    /// Number of syntheses done in this session.
    pub generation: u64,
    /// `"default"` or `"upload"`.
    pub voice: String,
    /// Encoding of the stored audio (sidecars written before formats existed hold WAV).
    #[serde(default)]
    pub format: AudioFormat,
    /// Chunks of the latest (or running) synthesis's text spoken so far.
    #[serde(default)]
    pub chunks_done: usize,
    /// Chunks the latest (or running) synthesis's text was cut into.
    #[serde(default)]
    pub chunks_total: usize,
}

/// This replica's state of a session: its metadata as last read or written (progress of a
/// synthesis running here included) and the number of requests using it.
struct Session {
    meta: SessionMeta,
    active: Arc<AtomicUsize>,
}

impl Session {
    fn new(meta: SessionMeta) -> Self {
        Self {
            meta,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// Marks a session as in use for as long as it lives.
pub struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A finished synthesis, encoded, as [`SessionStore::store`] writes it.
pub struct StoredAudio<'a> {
    pub bytes: &'a [u8],
    pub format: AudioFormat,
    pub duration: f64,
    pub sample_rate: u32,
}

pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Seconds since `path` was last modified (`None`: it is gone or unreadable).
pub fn age_s(path: &Path) -> Option<u64> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// Set `path`'s mtime to now (it stays what it is otherwise).
fn touch(path: &Path) -> std::io::Result<()> {
    std::fs::File::options()
        .append(true)
        .open(path)?
        .set_modified(SystemTime::now())
}

/// `Ok` also when the file was already gone.
fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub struct SessionStore {
    dir: PathBuf,
    map: DashMap<Uuid, Session>,
}

/// Write `bytes` to a unique temporary sibling of `path`, then rename it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        Uuid::new_v4().simple()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn not_found() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "session deleted")
}

impl SessionStore {
    /// Open (creating) the out directory and fill the cache from the sidecars on disk. Nothing is
    /// removed here: debris goes in [`SessionStore::cleanup`], once it is old.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = Self {
            dir: dir.to_path_buf(),
            map: DashMap::new(),
        };
        for id in store.ids_on_disk()? {
            let _ = store.meta(&id);
        }
        Ok(store)
    }

    /// Ids of the sidecars in the directory.
    fn ids_on_disk(&self) -> std::io::Result<Vec<Uuid>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_str().unwrap_or("");
            if let Some(id) = name
                .strip_suffix(".json")
                .and_then(|stem| Uuid::parse_str(stem).ok())
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Where a session's latest audio lives.
    pub fn audio_path(&self, id: &Uuid, format: AudioFormat) -> PathBuf {
        self.dir.join(format!("{id}.{}", format.extension()))
    }

    /// The out directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn meta_path(&self, id: &Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Sessions this replica knows of (the cache, brought in line with the directory by every
    /// cleanup pass).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The sidecar on disk: `Ok(None)` when there is none (or it is not a session's).
    fn read_meta(&self, id: &Uuid) -> std::io::Result<Option<SessionMeta>> {
        let bytes = match std::fs::read(self.meta_path(id)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match serde_json::from_slice::<SessionMeta>(&bytes) {
            Ok(meta) if meta.session_id == *id => Ok(Some(meta)),
            _ => {
                tracing::warn!(%id, "ignoring a corrupt sidecar");
                Ok(None)
            }
        }
    }

    /// A new, empty session; its sidecar is written at once, so every replica sees it.
    pub fn create(&self) -> std::io::Result<Uuid> {
        let id = Uuid::new_v4();
        let now = now_s();
        let meta = SessionMeta {
            session_id: id,
            created_at: now,
            updated_at: now,
            duration: 0.0,
            sample_rate: 0,
            generation: 0,
            voice: "default".into(),
            format: AudioFormat::default(),
            chunks_done: 0,
            chunks_total: 0,
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        write_atomic(&self.meta_path(&id), &json)?;
        self.map.insert(id, Session::new(meta));
        Ok(id)
    }

    /// The session as it is on disk (with the progress of a synthesis running here); `None` if
    /// there is no such session (any more).
    pub fn meta(&self, id: &Uuid) -> Option<SessionMeta> {
        let disk = match self.read_meta(id) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%id, error = %e, "could not read a sidecar");
                None
            }
        };
        let Some(mut meta) = disk else {
            self.map
                .remove_if(id, |_, s| s.active.load(Ordering::SeqCst) == 0);
            return None;
        };
        let mut entry = self
            .map
            .entry(*id)
            .or_insert_with(|| Session::new(meta.clone()));
        if entry.active.load(Ordering::SeqCst) > 0 && entry.meta.generation == meta.generation {
            // A synthesis is running here: its progress is newer than the file's.
            meta.chunks_done = entry.meta.chunks_done;
            meta.chunks_total = entry.meta.chunks_total;
        }
        entry.meta = meta.clone();
        Some(meta)
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.meta(id).is_some()
    }

    /// Mark the session busy (synthesis or streaming) on this replica; `None` if it does not
    /// exist.
    pub fn busy(&self, id: &Uuid) -> Option<Busy> {
        self.meta(id)?;
        self.map.get(id).map(|s| {
            s.active.fetch_add(1, Ordering::SeqCst);
            Busy(s.active.clone())
        })
    }

    /// Mark the session as used now for every replica's cleanup (a synthesis into it started or
    /// progressed). `NotFound`: it is gone.
    pub fn touch(&self, id: &Uuid) -> std::io::Result<()> {
        touch(&self.meta_path(id))
    }

    /// Record a running synthesis's progress (in memory; the sidecar gets it with the audio) and
    /// touch the session.
    pub fn set_progress(&self, id: &Uuid, done: usize, total: usize) {
        if let Some(mut s) = self.map.get_mut(id) {
            s.meta.chunks_done = done;
            s.meta.chunks_total = total;
        }
        if let Err(e) = self.touch(id) {
            tracing::debug!(%id, error = %e, "could not touch the session");
        }
    }

    /// Store a finished synthesis: audio then sidecar, both atomically, over what is on disk now
    /// (another replica may have synthesised into the session meanwhile); then update the cache.
    /// `voice` names the session's new voice (`"upload"`), if it changed. `NotFound`: the session
    /// was deleted (here or by another replica).
    pub fn store(
        &self,
        id: &Uuid,
        audio: &StoredAudio<'_>,
        voice: Option<&str>,
    ) -> std::io::Result<SessionMeta> {
        if !self.map.contains_key(id) {
            return Err(not_found()); // deleted here while we were working
        }
        let mut meta = self.read_meta(id)?.ok_or_else(not_found)?;
        let previous = meta.format;
        meta.updated_at = now_s();
        meta.duration = audio.duration;
        meta.sample_rate = audio.sample_rate;
        meta.format = audio.format;
        meta.generation += 1;
        if let Some(s) = self.map.get(id) {
            meta.chunks_done = s.meta.chunks_done;
            meta.chunks_total = s.meta.chunks_total;
        }
        if let Some(kind) = voice {
            meta.voice = kind.to_string();
        }
        write_atomic(&self.audio_path(id, audio.format), audio.bytes)?;
        let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        write_atomic(&self.meta_path(id), &json)?;
        if previous != audio.format {
            let _ = std::fs::remove_file(self.audio_path(id, previous));
        }
        match self.map.get_mut(id) {
            Some(mut s) => {
                s.meta = meta.clone();
            }
            None => {
                // Deleted while we were writing: do not resurrect it.
                self.remove_files(id);
                return Err(not_found());
            }
        }
        Ok(meta)
    }

    /// Remove a session's sidecar (first: from then on no replica finds it), then its audio.
    /// `true` if the sidecar was there.
    fn remove_files(&self, id: &Uuid) -> bool {
        let existed = match std::fs::remove_file(self.meta_path(id)) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(%id, error = %e, "could not remove the sidecar");
                true
            }
        };
        self.remove_audio(id);
        existed
    }

    fn remove_audio(&self, id: &Uuid) {
        for p in AudioFormat::ALL.map(|f| self.audio_path(id, f)) {
            if let Err(e) = remove_if_present(&p) {
                tracing::warn!(path = %p.display(), error = %e, "could not remove");
            }
        }
    }

    /// Remove a session's audio and metadata (its voice is the voice store's). `false` if it did
    /// not exist (on any replica).
    pub fn delete(&self, id: &Uuid) -> bool {
        let cached = self.map.remove(id).is_some();
        self.remove_files(id) || cached
    }

    /// One cleanup pass over the directory. Deletes sessions untouched (sidecar mtime) for
    /// longer than `max_age_s` that no request here is using; removes temporary files, and audio
    /// without a sidecar, older than that; drops cached sessions another replica deleted and
    /// caches the ones it created. Returns the deleted sessions' ids.
    pub fn cleanup(&self, max_age_s: u64) -> Vec<Uuid> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cleanup: cannot read");
                return Vec::new();
            }
        };
        let stale = |p: &Path| age_s(p).is_some_and(|a| a > max_age_s);
        let (mut sidecars, mut audio) = (Vec::new(), Vec::new());
        for path in entries.flatten().map(|e| e.path()) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.contains(".tmp") {
                if stale(&path) {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            let Ok(id) = Uuid::parse_str(stem) else {
                continue;
            };
            if ext == "json" {
                sidecars.push(id);
            } else if AudioFormat::from_extension(ext).is_some() {
                audio.push((id, path));
            }
        }
        let mut removed = Vec::new();
        for id in &sidecars {
            let busy_here = self
                .map
                .get(id)
                .is_some_and(|s| s.active.load(Ordering::SeqCst) > 0);
            if !busy_here && stale(&self.meta_path(id)) && self.claim_stale(id, max_age_s) {
                self.map
                    .remove_if(id, |_, s| s.active.load(Ordering::SeqCst) == 0);
                self.remove_audio(id);
                removed.push(*id);
            } else {
                let _ = self.meta(id);
            }
        }
        for (id, path) in audio {
            if !self.meta_path(&id).exists() && stale(&path) {
                tracing::warn!(path = %path.display(), "removing audio without metadata");
                let _ = std::fs::remove_file(&path);
            }
        }
        // Sessions another replica deleted (their sidecar is gone).
        let known: Vec<Uuid> = self.map.iter().map(|s| *s.key()).collect();
        for id in known {
            if !sidecars.contains(&id) {
                let _ = self.meta(&id);
            }
        }
        removed
    }

    /// Take a stale session's sidecar out of every replica's sight by renaming it to a unique
    /// grave, then unlink it, unless a touch raced in (then it is put back). `true`: deleted.
    fn claim_stale(&self, id: &Uuid, max_age_s: u64) -> bool {
        let path = self.meta_path(id);
        let grave = self
            .dir
            .join(format!("{id}.json.{}.tmp", Uuid::new_v4().simple()));
        if std::fs::rename(&path, &grave).is_err() {
            return false; // another replica claimed it first
        }
        if age_s(&grave).is_some_and(|a| a <= max_age_s) {
            let _ = std::fs::rename(&grave, &path);
            return false;
        }
        let _ = std::fs::remove_file(&grave);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cbx-sessions-{tag}-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap_or_default();
        d
    }

    /// Set `path`'s mtime `secs` into the past.
    fn age(path: &Path, secs: u64) -> std::io::Result<()> {
        std::fs::File::options()
            .append(true)
            .open(path)?
            .set_modified(SystemTime::now() - std::time::Duration::from_secs(secs))
    }

    #[test]
    fn store_recover_delete_and_cleanup() -> std::io::Result<()> {
        let dir = tmpdir("a");
        let store = SessionStore::open(&dir)?;
        let id = store.create()?;
        let audio = StoredAudio {
            bytes: b"RIFFfake",
            format: AudioFormat::Wav,
            duration: 1.5,
            sample_rate: 24_000,
        };
        store.store(&id, &audio, None)?;
        let empty = store.create()?; // never synthesised, yet on disk for every replica
                                     // Debris of a crash (old) and of writes in progress elsewhere (new).
        let (old_tmp, new_tmp) = (dir.join("x.wav.tmp123"), dir.join("y.wav.tmp456"));
        let orphan = dir.join(format!("{}.wav", Uuid::new_v4()));
        for p in [&old_tmp, &new_tmp, &orphan] {
            std::fs::write(p, b"partial")?;
        }
        std::fs::write(dir.join(format!("{}.json", Uuid::new_v4())), b"{not json")?;
        age(&old_tmp, 7200)?;
        age(&orphan, 7200)?;
        drop(store);

        let store = SessionStore::open(&dir)?;
        assert_eq!(store.len(), 2);
        assert_eq!(store.meta(&empty).map(|m| m.generation), Some(0));
        let meta = store
            .meta(&id)
            .ok_or_else(|| std::io::Error::other("lost"))?;
        assert_eq!((meta.duration, meta.generation), (1.5, 1));
        assert!(store.cleanup(3600).is_empty());
        assert!(!old_tmp.exists() && !orphan.exists(), "old debris goes");
        assert!(
            new_tmp.exists(),
            "a young temporary file may be a write in progress"
        );

        // Busy sessions survive cleanup; idle stale ones do not.
        age(&store.meta_path(&id), 10)?;
        age(&store.meta_path(&empty), 10)?;
        let guard = store.busy(&id);
        assert_eq!(store.cleanup(5), vec![empty]);
        drop(guard);
        assert_eq!(store.cleanup(5), vec![id]);
        assert!(!store.delete(&id));
        assert_eq!(store.len(), 0);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn two_stores_on_one_directory_share_sessions() -> std::io::Result<()> {
        let dir = tmpdir("shared");
        let (a, b) = (SessionStore::open(&dir)?, SessionStore::open(&dir)?);
        let id = a.create()?;
        assert_eq!(
            b.meta(&id).map(|m| m.generation),
            Some(0),
            "b sees a's new session"
        );
        let wav = |bytes: &'static [u8]| StoredAudio {
            bytes,
            format: AudioFormat::Wav,
            duration: 1.0,
            sample_rate: 24_000,
        };
        a.store(&id, &wav(b"RIFFone"), None)?;
        let busy_b = b
            .busy(&id)
            .ok_or_else(|| std::io::Error::other("b lost it"))?;
        b.store(&id, &wav(b"RIFFtwo"), Some("upload"))?;
        drop(busy_b);
        let meta = a
            .meta(&id)
            .ok_or_else(|| std::io::Error::other("a lost it"))?;
        assert_eq!((meta.generation, meta.voice.as_str()), (2, "upload"));
        assert_eq!(
            std::fs::read(a.audio_path(&id, AudioFormat::Wav))?,
            b"RIFFtwo"
        );

        // A reader on a keeps its open file when b deletes the session.
        let mut open = std::fs::File::open(a.audio_path(&id, AudioFormat::Wav))?;
        assert!(b.delete(&id));
        assert!(a.meta(&id).is_none() && a.busy(&id).is_none());
        assert_eq!(
            a.store(&id, &wav(b"RIFFx"), None)
                .map_err(|e| e.kind())
                .err(),
            Some(std::io::ErrorKind::NotFound)
        );
        let mut left = Vec::new();
        std::io::Read::read_to_end(&mut open, &mut left)?;
        assert_eq!(left, b"RIFFtwo");
        assert!(!a.delete(&id), "already gone");

        // A session b is synthesising into (touched) is not stale for a's cleanup.
        let id = a.create()?;
        age(&a.meta_path(&id), 100)?;
        let _busy = b.busy(&id);
        b.set_progress(&id, 1, 3);
        assert!(a.cleanup(50).is_empty());
        assert!(a.meta(&id).is_some());
        age(&a.meta_path(&id), 100)?;
        assert_eq!(a.cleanup(50), vec![id]);
        assert!(b.meta(&id).is_none(), "gone for b too");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
