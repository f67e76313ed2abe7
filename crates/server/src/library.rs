//! The voice library: voices saved by name (`POST /voices`), usable from every endpoint.
//!
//! On disk each voice is a directory `<out>/voices/<name>/` holding the original clip
//! (`clip.<ext>`), the prepared voice (`voice.safetensors`) and its description (`voice.json`).
//! A voice is written into a hidden temporary directory and renamed into place, so a crash leaves
//! either the whole voice or hidden debris that [`VoiceLibrary::sweep`] removes once it is old; a
//! deletion renames the directory away before removing it. Names are reserved in memory before any
//! work starts, so two concurrent uploads of one name give one voice and one `409`.
//!
//! The directory is the truth, shared by every replica on the same volume: a lookup checks the
//! voice's `voice.json` (mtime and size) and reloads a voice another replica saved, replaced or
//! deleted; the list is read from the directory.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::model::{Voice, VoiceCodec};
use crate::voices::DEFAULT_VOICE;

/// Longest voice name.
pub const MAX_NAME_CHARS: usize = 64;
const META: &str = "voice.json";
const VOICE: &str = "voice.safetensors";

/// What the library tells about a voice (`GET /voices`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct VoiceInfo {
    /// The name requests use in `voice`.
    #[schema(example = "alice")]
    pub name: String,
    /// `true` for the model's built-in voice (which cannot be deleted).
    pub builtin: bool,
    /// Unix seconds when it was saved (`null` for the built-in voice).
    #[schema(required = true)]
    pub created_at: Option<u64>,
    /// Seconds of the original clip (`null` for the built-in voice).
    #[schema(required = true)]
    pub clip_seconds: Option<f64>,
    /// Container of the original clip: `wav`, `mp3`, `ogg`, `flac` (`null` for the built-in voice).
    #[schema(required = true)]
    pub clip_format: Option<String>,
    /// Bytes of the original clip (`null` for the built-in voice).
    #[schema(required = true)]
    pub clip_bytes: Option<u64>,
}

impl VoiceInfo {
    /// The built-in voice.
    pub fn builtin() -> Self {
        Self {
            name: DEFAULT_VOICE.into(),
            builtin: true,
            created_at: None,
            clip_seconds: None,
            clip_format: None,
            clip_bytes: None,
        }
    }
}

/// A saved voice: its description and the prepared voice.
#[derive(Debug)]
pub struct SavedVoice {
    pub info: VoiceInfo,
    pub voice: Voice,
}

/// Which version of a voice a cached copy is: its `voice.json`'s mtime and size.
type Stamp = (SystemTime, u64);

enum Slot {
    /// An upload of this name is being prepared.
    Reserved,
    Ready(Stamp, Arc<SavedVoice>),
}

pub struct VoiceLibrary {
    dir: PathBuf,
    codec: VoiceCodec,
    slots: Mutex<BTreeMap<String, Slot>>,
}

/// Check a name: 1–64 characters of `[A-Za-z0-9_.-]`, not starting with a dot, not `default`.
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| Err(ApiError::InvalidVoiceName(why.to_string()));
    if name.is_empty() || name.len() > MAX_NAME_CHARS {
        return bad("a voice name has 1 to 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return bad("a voice name has only letters, digits, '_', '.' and '-'");
    }
    if name.starts_with('.') {
        return bad("a voice name cannot start with '.'");
    }
    if name == DEFAULT_VOICE {
        return bad("'default' is the built-in voice");
    }
    Ok(())
}

/// The container of an audio file, from its first bytes.
pub fn sniff_format(bytes: &[u8]) -> &'static str {
    let starts = |p: &[u8]| bytes.starts_with(p);
    if starts(b"RIFF") {
        "wav"
    } else if starts(b"fLaC") {
        "flac"
    } else if starts(b"OggS") {
        "ogg"
    } else if starts(b"ID3") || (bytes.len() > 1 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        "mp3"
    } else {
        "bin"
    }
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> chatterbox::Error {
    move |source| chatterbox::Error::Io { context, source }
}

/// A name held while its voice is prepared; dropped without [`VoiceLibrary::commit`], it frees
/// the name again.
pub struct Reservation {
    library: Arc<VoiceLibrary>,
    name: String,
    committed: bool,
}

impl Reservation {
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed {
            let mut slots = crate::lock(&self.library.slots);
            if matches!(slots.get(&self.name), Some(Slot::Reserved)) {
                slots.remove(&self.name);
            }
        }
    }
}

impl VoiceLibrary {
    /// Open (creating) `dir`. Voices are loaded when first used; nothing is removed here (debris
    /// goes in [`VoiceLibrary::sweep`], once old: a young one may be another replica's write).
    pub fn open(dir: &Path, codec: VoiceCodec) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            codec,
            slots: Mutex::new(BTreeMap::new()),
        })
    }

    /// Remove hidden debris of interrupted writes and deletions older than `max_age_s`, and
    /// forget cached voices another replica deleted.
    pub fn sweep(&self, max_age_s: u64) {
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden && crate::sessions::age_s(&path).is_some_and(|a| a > max_age_s) {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        crate::lock(&self.slots)
            .retain(|name, slot| matches!(slot, Slot::Reserved) || self.dir.join(name).is_dir());
    }

    fn stamp(&self, name: &str) -> Option<Stamp> {
        let m = std::fs::metadata(self.dir.join(name).join(META)).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn load(path: &Path, name: &str, codec: VoiceCodec) -> chatterbox::Result<SavedVoice> {
        let meta = path.join(META);
        let bytes = std::fs::read(&meta).map_err(io_err(format!("reading {}", meta.display())))?;
        let info: VoiceInfo = serde_json::from_slice(&bytes)
            .map_err(|e| chatterbox::Error::InvalidArgument(format!("{}: {e}", meta.display())))?;
        if info.name != name {
            return Err(chatterbox::Error::InvalidArgument(format!(
                "{} names another voice",
                meta.display()
            )));
        }
        let voice = codec.load(&path.join(VOICE))?;
        Ok(SavedVoice { info, voice })
    }

    /// Saved voices, by name, as the directory holds them now.
    pub fn list(&self) -> Vec<VoiceInfo> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        names
            .iter()
            .filter_map(|n| self.get(n))
            .map(|v| v.info.clone())
            .collect()
    }

    /// The saved voice called `name`, as it is on disk now.
    pub fn get(&self, name: &str) -> Option<Arc<SavedVoice>> {
        validate_name(name).ok()?;
        let Some(now) = self.stamp(name) else {
            let mut slots = crate::lock(&self.slots);
            if matches!(slots.get(name), Some(Slot::Ready(..))) {
                slots.remove(name);
            }
            return None;
        };
        if let Some(Slot::Ready(stamp, v)) = crate::lock(&self.slots).get(name) {
            if *stamp == now {
                return Some(v.clone());
            }
        }
        match Self::load(&self.dir.join(name), name, self.codec) {
            Ok(saved) => {
                let saved = Arc::new(saved);
                let mut slots = crate::lock(&self.slots);
                if !matches!(slots.get(name), Some(Slot::Reserved)) {
                    slots.insert(name.to_string(), Slot::Ready(now, saved.clone()));
                }
                Some(saved)
            }
            Err(e) => {
                tracing::warn!(voice = %name, error = %e, "ignoring unreadable voice");
                None
            }
        }
    }

    /// Where a saved voice's original clip is, and its container.
    pub fn clip_path(&self, name: &str) -> Option<(PathBuf, String)> {
        let saved = self.get(name)?;
        let format = saved
            .info
            .clip_format
            .clone()
            .unwrap_or_else(|| "bin".into());
        Some((self.dir.join(name).join(format!("clip.{format}")), format))
    }

    /// Hold `name` (valid, and neither saved nor being saved) for a new voice.
    pub fn reserve(self: &Arc<Self>, name: &str) -> Result<Reservation, ApiError> {
        validate_name(name)?;
        let on_disk = self.dir.join(name).exists();
        let mut slots = crate::lock(&self.slots);
        if on_disk || matches!(slots.get(name), Some(Slot::Reserved)) {
            return Err(ApiError::VoiceExists(name.to_string()));
        }
        slots.insert(name.to_string(), Slot::Reserved);
        Ok(Reservation {
            library: self.clone(),
            name: name.to_string(),
            committed: false,
        })
    }

    /// Write the voice and its clip under the reserved name (atomically), then make it usable.
    /// Blocking.
    pub fn commit(
        &self,
        mut reservation: Reservation,
        clip: &[u8],
        clip_seconds: f64,
        voice: Voice,
    ) -> chatterbox::Result<VoiceInfo> {
        let info = VoiceInfo {
            name: reservation.name.clone(),
            builtin: false,
            created_at: Some(crate::sessions::now_s()),
            clip_seconds: Some(clip_seconds),
            clip_format: Some(sniff_format(clip).to_string()),
            clip_bytes: Some(clip.len() as u64),
        };
        let tmp = self.dir.join(format!(".tmp-{}", Uuid::new_v4().simple()));
        let target = self.dir.join(&info.name);
        let written = self.write_dir(&tmp, &info, clip, &voice).and_then(|()| {
            std::fs::rename(&tmp, &target)
                .map_err(io_err(format!("renaming into {}", target.display())))
        });
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let saved = Arc::new(SavedVoice {
            info: info.clone(),
            voice,
        });
        match self.stamp(&info.name) {
            Some(now) => {
                crate::lock(&self.slots).insert(info.name.clone(), Slot::Ready(now, saved))
            }
            None => crate::lock(&self.slots).remove(&info.name),
        };
        reservation.committed = true;
        Ok(info)
    }

    fn write_dir(
        &self,
        dir: &Path,
        info: &VoiceInfo,
        clip: &[u8],
        voice: &Voice,
    ) -> chatterbox::Result<()> {
        std::fs::create_dir(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let clip_path = dir.join(format!(
            "clip.{}",
            info.clip_format.as_deref().unwrap_or("bin")
        ));
        std::fs::write(&clip_path, clip)
            .map_err(io_err(format!("writing {}", clip_path.display())))?;
        self.codec.save(voice, &dir.join(VOICE))?;
        let meta = serde_json::to_vec_pretty(info)
            .map_err(|e| chatterbox::Error::InvalidArgument(e.to_string()))?;
        std::fs::write(dir.join(META), meta).map_err(io_err("writing voice.json".into()))
    }

    /// Remove a saved voice (renamed away first: atomic for every replica). `Ok(false)`: there
    /// is none of that name. Blocking.
    pub fn delete(&self, name: &str) -> std::io::Result<bool> {
        if validate_name(name).is_err() {
            return Ok(false);
        }
        let mut slots = crate::lock(&self.slots);
        if matches!(slots.get(name), Some(Slot::Reserved)) {
            return Ok(false);
        }
        let trash = self.dir.join(format!(".trash-{}", Uuid::new_v4().simple()));
        match std::fs::rename(self.dir.join(name), &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                slots.remove(name);
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        slots.remove(name);
        drop(slots);
        if let Err(e) = std::fs::remove_dir_all(&trash) {
            tracing::warn!(path = %trash.display(), error = %e, "could not remove");
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        for ok in ["alice", "A.b-c_9", &"x".repeat(64), "default2", "a..b"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            "default",
            "a b",
            "a/b",
            "..",
            ".hidden",
            "é",
            "a\\b",
        ] {
            assert_eq!(
                validate_name(bad).err().map(|e| e.code()),
                Some("invalid_voice_name"),
                "{bad:?}"
            );
        }
    }

    /// A model whose voices are strings, to test the library without the real model.
    struct Strings;

    impl crate::model::SpeechModel for Strings {
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
            std::fs::write(path, v).map_err(|e| chatterbox::Error::io("write", e))
        }
        fn load_voice(path: &Path) -> chatterbox::Result<String> {
            std::fs::read_to_string(path).map_err(|e| chatterbox::Error::io("read", e))
        }
    }

    #[test]
    fn a_name_is_held_while_reserved_and_freed_when_dropped() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("cbx-library-{}", Uuid::new_v4()));
        let lib = Arc::new(VoiceLibrary::open(&dir, VoiceCodec::of::<Strings>())?);
        let first = lib.reserve("alice")?;
        assert_eq!(
            lib.reserve("alice").err().map(|e| e.code()),
            Some("voice_exists"),
            "a concurrent upload of the same name"
        );
        assert!(lib.list().is_empty() && lib.get("alice").is_none());
        drop(first); // the upload failed: nothing stored, the name is free
        assert_eq!(std::fs::read_dir(&dir)?.count(), 0);
        let again = lib.reserve("alice")?;
        let info = lib.commit(again, b"RIFF clip", 2.5, Voice::new("v1".to_string()))?;
        assert_eq!(
            (info.name.as_str(), info.clip_format.as_deref()),
            ("alice", Some("wav"))
        );
        assert_eq!(
            lib.reserve("alice").err().map(|e| e.code()),
            Some("voice_exists")
        );
        drop(lib);

        let lib = VoiceLibrary::open(&dir, VoiceCodec::of::<Strings>())?;
        let saved = lib
            .get("alice")
            .ok_or_else(|| anyhow::anyhow!("recovered"))?;
        assert_eq!(
            saved.voice.downcast::<String>().map(String::as_str),
            Some("v1")
        );
        assert_eq!(saved.info, info);
        assert!(lib.delete("alice")? && !lib.delete("alice")?);
        assert_eq!(std::fs::read_dir(&dir)?.count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn formats_are_sniffed() {
        assert_eq!(sniff_format(b"RIFF...."), "wav");
        assert_eq!(sniff_format(b"fLaC"), "flac");
        assert_eq!(sniff_format(b"OggS"), "ogg");
        assert_eq!(sniff_format(b"ID3\x03"), "mp3");
        assert_eq!(sniff_format(&[0xFF, 0xFB, 0x90]), "mp3");
        assert_eq!(sniff_format(b"hello"), "bin");
    }
}
