//! Keeping the resident set close to the live heap. glibc's allocator keeps one arena per thread that
//! allocates and holds on to freed memory, so after a burst (thousands of connectors created at once) the
//! process would stay at its peak. Fewer arenas and a periodic trim give the memory back.

// The allocator's tuning knobs exist only as C functions.
#![allow(unsafe_code)]

/// Blocks this large or larger come straight from the system and go straight back when freed.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Limits glibc to two arenas, and keeps large blocks out of them. Call first thing in `main`, before any
/// thread starts. glibc raises its mmap threshold after each large block is freed (up to 32 MiB), so the
/// next poll answer (megabytes for thousands of connectors) would be carved from an arena and leave it
/// fragmented; a fixed threshold keeps those blocks out of the arenas.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Returns free heap memory to the operating system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}
