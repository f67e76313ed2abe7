//! Voices: the model's built-in one (`default`), the voice each session computed from its latest
//! upload, and the named voices of the [`VoiceLibrary`] (under `<out>/voices/`). This store owns voice persistence: a session's voice lives at
//! `<out>/<sid>.voice.safetensors`, written to a temporary name and renamed into place, and is
//! reloaded on start for every session that survived.

use dashmap::DashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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

pub struct VoiceStore {
    dir: PathBuf,
    codec: VoiceCodec,
    sessions: DashMap<Uuid, Voice>,
    library: Arc<VoiceLibrary>,
}

impl VoiceStore {
    /// Open the voices in `dir`: load the voice of every session `is_session` knows, and remove
    /// the files of sessions that are gone (or that cannot be read); open the library in
    /// `dir/voices`.
    pub fn open(
        dir: &Path,
        codec: VoiceCodec,
        is_session: impl Fn(&Uuid) -> bool,
    ) -> std::io::Result<Self> {
        let store = Self {
            dir: dir.to_path_buf(),
            codec,
            sessions: DashMap::new(),
            library: Arc::new(VoiceLibrary::open(&dir.join("voices"), codec)?),
        };
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        for path in entries.map(|e| e.path()) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(stem) = name.strip_suffix(SUFFIX) else {
                continue;
            };
            let id = Uuid::parse_str(stem).ok().filter(|id| is_session(id));
            let loaded = id.map(|id| (id, codec.load(&path)));
            match loaded {
                Some((id, Ok(v))) => {
                    store.sessions.insert(id, v);
                }
                Some((id, Err(e))) => {
                    tracing::warn!(%id, error = %e, "ignoring unreadable session voice");
                }
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(store)
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

    /// The voice the session computed from its latest upload.
    pub fn session_voice(&self, id: &Uuid) -> Option<Voice> {
        self.sessions.get(id).map(|v| v.clone())
    }

    /// Number of sessions with a voice.
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
        self.sessions.insert(*id, voice);
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
    fn voices_persist_recover_and_orphans_go() -> chatterbox::Result<()> {
        let dir = std::env::temp_dir().join(format!("cbx-voices-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let (kept, gone) = (Uuid::new_v4(), Uuid::new_v4());
        let codec = VoiceCodec::of::<Words>();
        let store = VoiceStore::open(&dir, codec, |_| true)
            .map_err(|e| chatterbox::Error::io("open", e))?;
        store.save_session_voice(&kept, Voice::new("kept".to_string()))?;
        store.save_session_voice(&gone, Voice::new("gone".to_string()))?;
        assert_eq!(store.len(), 2);
        drop(store);

        let store = VoiceStore::open(&dir, codec, |id| *id == kept)
            .map_err(|e| chatterbox::Error::io("open", e))?;
        let v = store.session_voice(&kept);
        assert_eq!(
            v.as_ref()
                .and_then(|v| v.downcast::<String>())
                .map(String::as_str),
            Some("kept")
        );
        assert!(store.session_voice(&gone).is_none());
        let files: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert_eq!(
            files.len(),
            2,
            "the orphan voice was removed (the library remains)"
        );
        store.remove_session(&kept);
        assert!(store.is_empty());
        assert!(store.named("default").is_some() && store.named("nobody").is_none());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
