//! The image cache: files named by the hash of the normalized request, bounded in bytes (the
//! least recently used go first), with the hottest entries also kept in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;

/// One cached answer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The encoded image.
    pub bytes: Bytes,
    /// Its content type.
    pub content_type: &'static str,
}

/// The extensions we write, and their content types.
const TYPES: [(&str, &str); 3] = [("webp", "image/webp"), ("jpg", "image/jpeg"), ("svg", "image/svg+xml")];

fn content_type(extension: &str) -> Option<&'static str> {
    TYPES.iter().find(|(ext, _)| *ext == extension).map(|(_, ct)| *ct)
}

fn extension(content_type: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(_, ct)| *ct == content_type)
        .map_or("bin", |(ext, _)| *ext)
}

struct Index {
    /// key → (bytes on disk, last use, extension).
    files: HashMap<String, (u64, SystemTime, &'static str)>,
    total: u64,
}

/// The disk cache.
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    hot: quick_cache::sync::Cache<String, Entry, EntryWeight>,
}

#[derive(Clone)]
struct EntryWeight;

impl quick_cache::Weighter<String, Entry> for EntryWeight {
    fn weight(&self, _key: &String, value: &Entry) -> u64 {
        value.bytes.len() as u64 + 64
    }
}

impl DiskCache {
    /// Opens (creating) `dir` and indexes what it already holds.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut files = HashMap::new();
        let mut total = 0;
        for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
            let path = entry.path();
            let (Some(stem), Some(ext)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension()
                    .and_then(|s| s.to_str())
                    .and_then(|e| TYPES.iter().find(|(x, _)| *x == e)),
            ) else {
                continue;
            };
            if let Ok(meta) = entry.metadata() {
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                total += meta.len();
                files.insert(stem.to_owned(), (meta.len(), used, ext.0));
            }
        }
        let hot_bytes = (max_bytes / 8).clamp(1024 * 1024, 64 * 1024 * 1024);
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            index: Mutex::new(Index { files, total }),
            hot: quick_cache::sync::Cache::with_weighter(4096, hot_bytes, EntryWeight),
        })
    }

    /// Bytes on disk.
    pub fn total_bytes(&self) -> u64 {
        self.index.lock().map_or(0, |i| i.total)
    }

    fn path(&self, key: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{key}.{ext}"))
    }

    /// The entry for `key`, from memory or disk.
    pub async fn get(&self, key: &str) -> Option<Entry> {
        let ext = {
            let mut index = self.index.lock().ok()?;
            let file = index.files.get_mut(key)?;
            file.1 = SystemTime::now();
            file.2
        };
        if let Some(entry) = self.hot.get(key) {
            return Some(entry);
        }
        let bytes = tokio::fs::read(self.path(key, ext)).await.ok()?;
        let entry = Entry {
            bytes: Bytes::from(bytes),
            content_type: content_type(ext)?,
        };
        self.hot.insert(key.to_owned(), entry.clone());
        Some(entry)
    }

    /// Stores `entry` under `key`, then evicts the least recently used files past the bound.
    pub async fn put(&self, key: &str, entry: &Entry) -> std::io::Result<()> {
        let ext = extension(entry.content_type);
        let path = self.path(key, ext);
        // Write then rename, so a reader never sees half a file.
        let temp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        tokio::fs::write(&temp, &entry.bytes).await?;
        tokio::fs::rename(&temp, &path).await?;
        self.hot.insert(key.to_owned(), entry.clone());
        let victims = {
            let Ok(mut index) = self.index.lock() else {
                return Ok(());
            };
            let size = entry.bytes.len() as u64;
            if let Some((old, _, _)) = index.files.insert(key.to_owned(), (size, SystemTime::now(), ext)) {
                index.total -= old;
            }
            index.total += size;
            let mut victims = Vec::new();
            if index.total > self.max_bytes {
                let mut by_age: Vec<(SystemTime, String)> =
                    index.files.iter().map(|(k, (_, used, _))| (*used, k.clone())).collect();
                by_age.sort();
                for (_, victim) in by_age {
                    if index.total <= self.max_bytes {
                        break;
                    }
                    if let Some((size, _, ext)) = index.files.remove(&victim) {
                        index.total -= size;
                        victims.push((victim, ext));
                    }
                }
            }
            victims
        };
        for (victim, ext) in victims {
            self.hot.remove(&victim);
            let _ = tokio::fs::remove_file(self.path(&victim, ext)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cache_stays_within_its_bound_and_survives_a_restart() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("gateway-cache-{}", uuid::Uuid::new_v4()));
        let cache = DiskCache::open(&dir, 2500)?;
        let entry = |n: u8| Entry {
            bytes: Bytes::from(vec![n; 1000]),
            content_type: "image/jpeg",
        };
        cache.put("a", &entry(1)).await?;
        cache.put("b", &entry(2)).await?;
        assert!(cache.get("a").await.is_some(), "a is now the most recently used");
        cache.put("c", &entry(3)).await?;
        assert!(cache.total_bytes() <= 2500, "{}", cache.total_bytes());
        assert!(cache.get("b").await.is_none(), "b was the least recently used");
        let reopened = DiskCache::open(&dir, 2500)?;
        assert_eq!(reopened.total_bytes(), 2000);
        assert_eq!(reopened.get("c").await.map(|e| e.bytes[0]), Some(3));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
