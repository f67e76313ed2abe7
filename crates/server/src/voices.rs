//! Voices: the model's built-in one (`default`), the voice each session computed from its latest
//! upload, and the named voices of the [`VoiceLibrary`] (under `<out>/voices/`). This store owns voice persistence: a session's voice lives at
//! `<out>/<sid>.voice.safetensors`, written to a temporary name and renamed into place. The file
//! is the truth (another replica on the same directory may have written or removed it): the
//! in-memory copy is a cache, reloaded whenever the file's mtime or size differ from the copy's.

use dashmap::DashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use uuid::Uuid;

use crate::library::{SavedVoice, VoiceLibrary};
use crate::model::{Voice, VoiceCodec};

/// Name of the model's built-in voice.
pub const DEFAULT_VOICE: &str = "default";
/// What a response calls a session's uploaded voice.
pub const UPLOAD_VOICE: &str = "upload";
const SUFFIX: &str = ".voice.safetensors";

/// A voice a request asked for by name.
#[derive(Debug, Clone)]
pub enum NamedVoice {
    /// The model's built-in voice.
    Builtin,
    /// A voice saved in the library.
    Saved(Arc<SavedVoice>),
}

/// Which version of a file a cached copy is: mtime and size.
type Stamp = (SystemTime, u64);

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok((m.modified()?, m.len()))
}

pub struct VoiceStore {
    dir: PathBuf,
    codec: VoiceCodec,
    sessions: DashMap<Uuid, (Stamp, Voice)>,
    library: Arc<VoiceLibrary>,
}

impl VoiceStore {
    /// Open the voices in `dir` (session voices are loaded when first used) and the library in
    /// `dir/voices`. Nothing is removed here: orphans go in [`VoiceStore::sweep`], once old.
    pub fn open(dir: &Path, codec: VoiceCodec) -> std::io::Result<Self> {
        Ok(Self {
            dir: dir.to_path_buf(),
            codec,
            sessions: DashMap::new(),
            library: Arc::new(VoiceLibrary::open(&dir.join("voices"), codec)?),
        })
    }

    /// Remove the voice files older than `max_age_s` whose session is gone (`is_session` says
    /// which are not), and forget cached voices whose file another replica removed.
    pub fn sweep(&self, max_age_s: u64, is_session: impl Fn(&Uuid) -> bool) {
        let entries = std::fs::read_dir(&self.dir).into_iter().flatten().flatten();
        for path in entries.map(|e| e.path()) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(id) = name
                .strip_suffix(SUFFIX)
                .and_then(|stem| Uuid::parse_str(stem).ok())
            else {
                continue;
            };
            let old = crate::sessions::age_s(&path).is_some_and(|a| a > max_age_s);
            if old && !is_session(&id) {
                tracing::warn!(path = %path.display(), "removing a voice without a session");
                self.remove_session(&id);
            }
        }
        self.sessions.retain(|id, _| self.path(id).exists());
        self.library.sweep(max_age_s);
    }

    /// The named voices.
    pub fn library(&self) -> &Arc<VoiceLibrary> {
        &self.library
    }

    fn path(&self, id: &Uuid) -> PathBuf {
        self.dir.join(format!("{id}{SUFFIX}"))
    }

    /// Names a request may ask for: `default`, then the library's.
    pub fn names(&self) -> Vec<String> {
        let saved = self.library.list().into_iter().map(|v| v.name);
        std::iter::once(DEFAULT_VOICE.to_string())
            .chain(saved)
            .collect()
    }

    /// The voice called `name`, if there is one.
    pub fn named(&self, name: &str) -> Option<NamedVoice> {
        if name == DEFAULT_VOICE {
            return Some(NamedVoice::Builtin);
        }
        self.library.get(name).map(NamedVoice::Saved)
    }

    /// The voice the session computed from its latest upload, as its file is now.
    pub fn session_voice(&self, id: &Uuid) -> Option<Voice> {
        let path = self.path(id);
        let Ok(now) = stamp(&path) else {
            self.sessions.remove(id);
            return None;
        };
        if let Some(cached) = self.sessions.get(id).filter(|c| c.0 == now) {
            return Some(cached.1.clone());
        }
        match self.codec.load(&path) {
            Ok(voice) => {
                self.sessions.insert(*id, (now, voice.clone()));
                Some(voice)
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "ignoring an unreadable session voice");
                None
            }
        }
    }

    /// Number of session voices cached here.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Persist a session's new voice (temporary file renamed into place), then keep it.
    pub fn save_session_voice(&self, id: &Uuid, voice: Voice) -> chatterbox::Result<()> {
        let path = self.path(id);
        let tmp = self
            .dir
            .join(format!("{id}.{}.voice.tmp", Uuid::new_v4().simple()));
        let written = self.codec.save(&voice, &tmp).and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|e| chatterbox::Error::Io {
                context: format!("renaming into {}", path.display()),
                source: e,
            })
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        if let Ok(now) = stamp(&path) {
            self.sessions.insert(*id, (now, voice));
        }
        Ok(())
    }

    /// Forget a session's voice and remove its file.
    pub fn remove_session(&self, id: &Uuid) {
        self.sessions.remove(id);
        let path = self.path(id);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "could not remove");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpeechModel;

    /// A model whose voices are strings, to test persistence without the real model.
    struct Words;

    impl SpeechModel for Words {
        type Voice = String;
        fn sample_rate(&self) -> u32 {
            8000
        }
        fn prepare_voice(&self, _: &chatterbox::Audio, _: f32) -> chatterbox::Result<String> {
            Ok("v".into())
        }
        fn generate(
            &self,
            _: &str,
            _: Option<&String>,
            _: &chatterbox::GenerateParams,
            _: &dyn Fn() -> bool,
            _: &mut dyn FnMut(Vec<f32>),
        ) -> chatterbox::Result<()> {
            Ok(())
        }
        fn save_voice(v: &String, path: &Path) -> chatterbox::Result<()> {
            std::fs::write(path, v).map_err(|e| chatterbox::Error::Io {
                context: "write".into(),
                source: e,
            })
        }
        fn load_voice(path: &Path) -> chatterbox::Result<String> {
            std::fs::read_to_string(path).map_err(|e| chatterbox::Error::Io {
                context: "read".into(),
                source: e,
            })
        }
    }

    #[test]
    fn voices_persist_are_shared_and_orphans_go() -> chatterbox::Result<()> {
        let dir = std::env::temp_dir().join(format!("cbx-voices-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let (kept, gone) = (Uuid::new_v4(), Uuid::new_v4());
        let codec = VoiceCodec::of::<Words>();
        let open = || VoiceStore::open(&dir, codec).map_err(|e| chatterbox::Error::io("open", e));
        let (store, other) = (open()?, open()?);
        store.save_session_voice(&kept, Voice::new("kept".to_string()))?;
        store.save_session_voice(&gone, Voice::new("gone".to_string()))?;
        assert_eq!(store.len(), 2);
        let word = |s: &VoiceStore, id| {
            s.session_voice(id)
                .and_then(|v| v.downcast::<String>().cloned())
        };
        assert_eq!(
            word(&other, &kept).as_deref(),
            Some("kept"),
            "the other replica finds it"
        );
        other.save_session_voice(&kept, Voice::new("newer".to_string()))?;
        assert_eq!(
            word(&store, &kept).as_deref(),
            Some("newer"),
            "and its new upload"
        );
        drop(store);

        let store = open()?;
        store.sweep(3600, |_| false);
        assert!(
            word(&store, &gone).is_some(),
            "a young orphan may be a write in progress"
        );
        let old = SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .append(true)
            .open(store.path(&gone))
            .and_then(|f| f.set_modified(old))
            .map_err(|e| chatterbox::Error::io("age", e))?;
        store.sweep(3600, |id| *id == kept);
        assert!(word(&store, &gone).is_none());
        assert!(
            word(&other, &gone).is_none(),
            "gone for the other replica too"
        );
        assert_eq!(word(&store, &kept).as_deref(), Some("newer"));
        let files = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .count();
        assert_eq!(
            files, 2,
            "the orphan voice was removed (the library remains)"
        );
        store.remove_session(&kept);
        assert!(store.is_empty() && word(&other, &kept).is_none());
        assert!(store.named("default").is_some() && store.named("nobody").is_none());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
