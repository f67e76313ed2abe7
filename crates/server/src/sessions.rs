//! Sessions: metadata in a DashMap, and on disk `<out>/<sid>.<format>` (the latest audio) plus a
//! `<sid>.json` sidecar. Voices live apart, in [`crate::voices::VoiceStore`].
//!
//! Every file is written to a temporary name and renamed into place (audio first, then its sidecar),
//! so a crash leaves either a complete session or debris that [`SessionStore::open`] removes.
//! A session that is being written or streamed holds a [`Busy`] guard and is never cleaned up.

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

use crate::audio::AudioFormat;

/// What is persisted beside each WAV.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

/// In-memory session: metadata and an activity counter.
struct Session {
    meta: SessionMeta,
    active: Arc<AtomicUsize>,
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

impl SessionStore {
    /// Open (creating) the out directory and rebuild the map from the sidecars on disk, removing
    /// temporary files, sidecars without their audio and audio without a sidecar.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = Self {
            dir: dir.to_path_buf(),
            map: DashMap::new(),
        };
        let mut audio = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.contains(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let (stem, ext) = match name.rsplit_once('.') {
                Some(x) => x,
                None => continue,
            };
            let Ok(id) = Uuid::parse_str(stem) else {
                continue;
            };
            match ext {
                "json" => {
                    let meta = std::fs::read(&path)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<SessionMeta>(&b).ok())
                        .filter(|m| m.session_id == id);
                    match meta {
                        Some(meta) if store.audio_path(&id, meta.format).is_file() => {
                            store.map.insert(
                                id,
                                Session {
                                    meta,
                                    active: Arc::new(AtomicUsize::new(0)),
                                },
                            );
                        }
                        _ => {
                            tracing::warn!(path = %path.display(), "removing orphan or corrupt sidecar");
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                ext if AudioFormat::from_extension(ext).is_some() => audio.push((id, path)),
                _ => {}
            }
        }
        for (id, path) in audio {
            let current = store
                .map
                .get(&id)
                .is_some_and(|s| store.audio_path(&id, s.meta.format) == path);
            if !current {
                tracing::warn!(path = %path.display(), "removing audio without metadata");
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(store)
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

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A new, empty session (nothing on disk until its first WAV is stored).
    pub fn create(&self) -> Uuid {
        let id = Uuid::new_v4();
        let now = now_s();
        self.map.insert(
            id,
            Session {
                meta: SessionMeta {
                    session_id: id,
                    created_at: now,
                    updated_at: now,
                    duration: 0.0,
                    sample_rate: 0,
                    generation: 0,
                    voice: "default".into(),
                    format: AudioFormat::default(),
                },
                active: Arc::new(AtomicUsize::new(0)),
            },
        );
        id
    }

    pub fn meta(&self, id: &Uuid) -> Option<SessionMeta> {
        self.map.get(id).map(|s| s.meta.clone())
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.map.contains_key(id)
    }

    /// Mark the session busy (synthesis or streaming); `None` if it does not exist.
    pub fn busy(&self, id: &Uuid) -> Option<Busy> {
        self.map.get(id).map(|s| {
            s.active.fetch_add(1, Ordering::SeqCst);
            Busy(s.active.clone())
        })
    }

    /// Store a finished synthesis: audio then sidecar, both atomically; then update the map.
    /// `voice` names the session's new voice (`"upload"`), if it changed.
    pub fn store(
        &self,
        id: &Uuid,
        audio: &StoredAudio<'_>,
        voice: Option<&str>,
    ) -> std::io::Result<SessionMeta> {
        let mut meta =
            self.map.get(id).map(|s| s.meta.clone()).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "session deleted")
            })?;
        let previous = meta.format;
        meta.updated_at = now_s();
        meta.duration = audio.duration;
        meta.sample_rate = audio.sample_rate;
        meta.format = audio.format;
        meta.generation += 1;
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
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "session deleted",
                ));
            }
        }
        Ok(meta)
    }

    fn remove_files(&self, id: &Uuid) {
        let audio = AudioFormat::ALL.map(|f| self.audio_path(id, f));
        for p in std::iter::once(self.meta_path(id)).chain(audio) {
            if let Err(e) = std::fs::remove_file(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %p.display(), error = %e, "could not remove");
                }
            }
        }
    }

    /// Remove a session's audio and metadata (its voice is the voice store's). `false` if it did
    /// not exist.
    pub fn delete(&self, id: &Uuid) -> bool {
        match self.map.remove(id) {
            Some(_) => {
                self.remove_files(id);
                true
            }
            None => false,
        }
    }

    /// Delete sessions idle for longer than `max_age_s` that nobody is using. Returns their ids.
    pub fn cleanup(&self, max_age_s: u64) -> Vec<Uuid> {
        let cutoff = now_s().saturating_sub(max_age_s);
        let stale: Vec<Uuid> = self
            .map
            .iter()
            .filter(|s| s.meta.updated_at < cutoff && s.active.load(Ordering::SeqCst) == 0)
            .map(|s| *s.key())
            .collect();
        let mut removed_ids = Vec::new();
        for id in stale {
            // Re-check under the shard lock: it may have become busy meanwhile.
            let removed = self
                .map
                .remove_if(&id, |_, s| {
                    s.meta.updated_at < cutoff && s.active.load(Ordering::SeqCst) == 0
                })
                .is_some();
            if removed {
                self.remove_files(&id);
                removed_ids.push(id);
            }
        }
        removed_ids
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

    #[test]
    fn store_recover_delete_and_cleanup() -> std::io::Result<()> {
        let dir = tmpdir("a");
        let store = SessionStore::open(&dir)?;
        let id = store.create();
        let audio = StoredAudio {
            bytes: b"RIFFfake",
            format: AudioFormat::Wav,
            duration: 1.5,
            sample_rate: 24_000,
        };
        store.store(&id, &audio, None)?;
        let empty = store.create(); // never synthesised: not persisted
                                    // Debris of a crash: a temp file, an orphan WAV, a corrupt sidecar.
        std::fs::write(dir.join("x.wav.tmp123"), b"partial")?;
        std::fs::write(dir.join(format!("{}.wav", Uuid::new_v4())), b"orphan")?;
        std::fs::write(dir.join(format!("{}.json", Uuid::new_v4())), b"{not json")?;
        drop(store);

        let store = SessionStore::open(&dir)?;
        assert_eq!(store.len(), 1);
        assert!(store.meta(&empty).is_none());
        let meta = store
            .meta(&id)
            .ok_or_else(|| std::io::Error::other("lost"))?;
        assert_eq!(meta.duration, 1.5);
        assert_eq!(
            std::fs::read_dir(&dir)?.count(),
            2,
            "only the session's two files remain"
        );

        // Busy sessions survive cleanup; idle stale ones do not.
        let guard = store.busy(&id);
        assert!(store.cleanup(0).is_empty());
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(store.cleanup(0).is_empty());
        drop(guard);
        assert_eq!(store.cleanup(0), vec![id]);
        assert!(!store.delete(&id));
        assert_eq!(std::fs::read_dir(&dir)?.count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
