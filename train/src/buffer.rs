//! Large zero-initialised buffers for the fitting loops: 64-byte aligned,
//! and from 2 MiB on, 2 MiB aligned and marked for transparent huge pages
//! (Linux x86-64) before their first touch.
//!
//! Why: on the 2-core VMs logsieve is built and measured on, touching a
//! fresh 4 KiB page costs ~3 µs (a 32 MiB buffer: ~25 ms of page faults,
//! more than a pass of k-means over a million rows), a fresh 2 MiB page
//! ~0.35 ms (~6 ms for 32 MiB); measured with a C program that `memset`s
//! a new `mmap` with and without `madvise(MADV_HUGEPAGE)`. Rows read at
//! random (word2vec's vectors) also miss the TLB less.

use std::alloc::Layout;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Types whose all-zero bytes are a valid value.
///
/// # Safety
/// Implement only for types where every bit pattern of zeros is a value.
pub unsafe trait Zeroable: Copy {}

// SAFETY: all-zero bytes are 0.0.
unsafe impl Zeroable for f64 {}
// SAFETY: all-zero bytes are 0.0.
unsafe impl Zeroable for f32 {}
// SAFETY: all-zero bytes are 0.
unsafe impl Zeroable for u8 {}
// SAFETY: all-zero bytes are 0.
unsafe impl Zeroable for u16 {}
// SAFETY: all-zero bytes are 0.
unsafe impl Zeroable for u32 {}
// SAFETY: all-zero bytes are 0.
unsafe impl Zeroable for u64 {}

const HUGE_PAGE: usize = 2 << 20;

/// A fixed-length, zero-initialised slice of `T` (see the module docs).
pub struct Buffer<T: Zeroable> {
    ptr: NonNull<T>,
    len: usize,
    layout: Layout,
}

// SAFETY: `Buffer` owns its allocation, like a `Vec<T>`.
unsafe impl<T: Zeroable + Send> Send for Buffer<T> {}
// SAFETY: shared access only reads, like a `Vec<T>`'s.
unsafe impl<T: Zeroable + Sync> Sync for Buffer<T> {}

impl<T: Zeroable> Buffer<T> {
    /// `len` zeros.
    pub fn zeroed(len: usize) -> Self {
        let bytes = (len * std::mem::size_of::<T>()).max(64);
        let align = if bytes >= HUGE_PAGE { HUGE_PAGE } else { 64.max(std::mem::align_of::<T>()) };
        let layout = Layout::from_size_align(bytes.next_multiple_of(align), align).expect("buffer size");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else { std::alloc::handle_alloc_error(layout) };
        // Advise before the first touch, so that the zeroing faults in huge
        // pages directly.
        if align == HUGE_PAGE {
            advise_huge_pages(raw, layout.size());
        }
        // SAFETY: `raw` is valid for `layout.size()` bytes.
        unsafe { std::ptr::write_bytes(raw, 0, layout.size()) };
        Buffer { ptr, len, layout }
    }

    /// The buffer's first address (for code that shares it between threads).
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T: Zeroable> Deref for Buffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the allocation holds `len` initialised (zeroed, then
        // written through `&mut`) values of `T`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroable> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroable> Drop for Buffer<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), self.layout) };
    }
}

/// A `Vec` of `len` zeros whose pages are marked for transparent huge pages
/// before their first touch (the 2 MiB-aligned part of it): for results
/// returned as plain vectors (k-means labels and distances).
pub fn zeroed_vec<T: Zeroable>(len: usize) -> Vec<T> {
    let mut v: Vec<T> = huge_vec(len);
    // SAFETY: zero bytes are a value of `T` (`Zeroable`); the capacity holds
    // `len` of them.
    unsafe {
        std::ptr::write_bytes(v.as_mut_ptr(), 0, len);
        v.set_len(len);
    }
    v
}

/// An empty `Vec` with room for `cap` values, the 2 MiB-aligned part of
/// which is marked for transparent huge pages (nothing is touched yet).
pub fn huge_vec<T>(cap: usize) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(cap);
    advise_aligned(v.as_mut_ptr().cast(), cap * std::mem::size_of::<T>());
    v
}

/// [`advise_huge_pages`] on the whole 2 MiB pages inside `[start, start + bytes)`.
fn advise_aligned(start: *mut u8, bytes: usize) {
    if bytes >= 2 * HUGE_PAGE {
        let start = start as usize;
        let aligned = start.next_multiple_of(HUGE_PAGE);
        let end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
        if end > aligned {
            advise_huge_pages(aligned as *mut u8, end - aligned);
        }
    }
}

/// `madvise(addr, len, MADV_HUGEPAGE)`: a hint, its result is ignored (the
/// standard library has no wrapper and the crate no libc dependency, so this
/// is the raw system call).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn advise_huge_pages(addr: *mut u8, len: usize) {
    const SYS_MADVISE: usize = 28;
    const MADV_HUGEPAGE: usize = 14;
    // SAFETY: madvise with MADV_HUGEPAGE only changes how the kernel backs
    // this range, which the allocator gave us; it reads and writes no memory
    // of ours. The syscall instruction clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_MADVISE => _,
            in("rdi") addr,
            in("rsi") len,
            in("rdx") MADV_HUGEPAGE,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn advise_huge_pages(_addr: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_small_and_huge() {
        for len in [0, 1, 7, 1000, (3 << 20) / 8] {
            let mut b = Buffer::<f64>::zeroed(len);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&v| v == 0.0));
            if len > 0 {
                b[len - 1] = 2.5;
                assert_eq!(b[len - 1], 2.5);
            }
            assert_eq!(b.as_mut_ptr() as usize % 64, 0);
        }
        let b = Buffer::<u32>::zeroed(5);
        assert_eq!(&b[..], &[0; 5]);
        for len in [0, 3, 1 << 21] {
            let v = zeroed_vec::<f64>(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    }
}
