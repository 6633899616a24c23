//! Allocator settings for the server process (glibc only; other C libraries keep theirs).
//!
//! glibc serves a large allocation (a request body: hundreds of KiB) with its own `mmap` and
//! gives it back on `free` — until the first such free, after which it raises its threshold to
//! that size and serves later bodies from the heap, where freed holes stay resident. Under many
//! concurrent uploads that retained heap, not live data, is most of the peak RSS. Fixing the
//! threshold at glibc's default (128 KiB) keeps every body in its own mapping, returned to the
//! kernel as soon as the request is done (`benches/RESULTS.md`: peak RSS at 64 connections).
//! An operator's `MALLOC_MMAP_THRESHOLD_` still wins: then nothing is changed here.

/// glibc's default `M_MMAP_THRESHOLD`, made fixed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 128 * 1024;

/// Apply the settings (once, at start-up, before the workers start).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; any value is accepted or refused
        // (returns 0), never undefined behaviour.
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
        if applied != 1 {
            tracing::warn!("could not fix the allocator's mmap threshold (mallopt)");
        }
    }
}
