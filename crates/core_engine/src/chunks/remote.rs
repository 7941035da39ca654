//! A second home for the chunk cache: [`RemoteChunks`], the seam between the on-disk
//! [`ChunkCache`](crate::chunk_cache::ChunkCache) and a store machines share without sharing a
//! disk (the api crate's object-store bucket). The local folder stays the working copy: a
//! miss there is looked up remotely and copied in, and every chunk inserted is copied out, so
//! a chunk one machine encoded is a hit on every other.
//!
//! An entry travels as its two files, the chunk first and its metadata last, as it is written
//! locally: a remote metadata file vouches for a complete chunk, and a copied-in entry is
//! verified (size, checksum) like any other before it is spliced.

use std::io;
use std::path::Path;

pub trait RemoteChunks: Send + Sync + std::fmt::Debug {
    /// Copies the remote file `name` (`<key>.mp4` or `<key>.json`) to `dest`; `Ok(false)` when
    /// there is none.
    fn download(&self, name: &str, dest: &Path) -> io::Result<bool>;
    /// Copies `file` to the remote as `name`. Names are content keys, so a name already there
    /// holds the same bits and is left as it is.
    fn upload(&self, name: &str, file: &Path) -> io::Result<()>;
}
