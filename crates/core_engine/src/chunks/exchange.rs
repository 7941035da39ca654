//! Sharing one render's chunks with other processes: [`ChunkExchange`], the seam between a
//! render and whatever hands its chunks to helpers (the api crate's job table). A helper encodes
//! the chunks it takes into the render's chunk cache, shared with it
//! (with a [`crate::PlannedRender`]); the render splices them from there. Chunks are keyed by their
//! content, and the same key always holds the same bits, so a chunk encoded twice is harmless.
//!
//! The render owns its chunks: it offers them, takes each one before encoding it, encodes
//! itself any a helper took but lost, and withdraws the offer when it ends, whatever way. An
//! exchange that cannot reach its helpers (a database down) lets the render encode everything
//! itself: its methods never fail the render.

use crate::plan::chunk_plan::ChunkKey;

pub trait ChunkExchange: Send + Sync + std::fmt::Debug {
    /// Offers `keys`, the chunks this render has to encode, in the render's plan order.
    /// Called once, before its encoders start.
    fn offer(&self, keys: &[ChunkKey]);
    /// Whether this render may encode `key`: `false` once a helper has taken it.
    fn take(&self, key: &ChunkKey) -> bool;
    /// Of `keys` (taken by helpers, not in the cache), the ones whose helper stopped without
    /// finishing, or finished but the cache lost (evicted): now the render's own to encode.
    fn reclaim_lost(&self, keys: &[ChunkKey]) -> Vec<ChunkKey>;
    /// Ends the offer (the render is done, failed or cancelled): helpers stop taking its
    /// chunks, and those encoding one are told to stop. Returns how many chunks each helper
    /// took and kept, by name (once the render has all its chunks: how many each encoded).
    fn withdraw(&self) -> Vec<(String, usize)>;
}
