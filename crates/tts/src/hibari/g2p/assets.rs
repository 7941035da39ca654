//! Reading the hibari folder's JSON tables (some gzipped). Every failure names the file.

use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::Path;

use flate2::read::GzDecoder;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::TtsError;

/// Parses `dir/name` as JSON, gunzipping it first when the name ends in `.gz`.
pub(crate) fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<T, TtsError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| TtsError::io(&path, e))?;
    let bad = |reason: String| TtsError::HibariAsset {
        path: path.clone(),
        reason,
    };
    let text = if name.ends_with(".gz") {
        let mut text = Vec::new();
        GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut text)
            .map_err(|e| bad(format!("not a gzip file: {e}")))?;
        text
    } else {
        bytes
    };
    serde_json::from_slice(&text).map_err(|e| bad(format!("not the expected JSON: {e}")))
}

/// A JSON object with its keys in file order: the normaliser's tables are applied in that
/// order, and regex alternations built from them try keys of equal length in that order.
#[derive(Debug)]
pub(crate) struct Ordered<V>(pub(crate) Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}
