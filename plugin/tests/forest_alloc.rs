//! Scoring an event with an isolation forest allocates nothing, with or
//! without its explanation (`logsieve_plugin::forest`). A counting global
//! allocator, per thread, so the test harness's own threads do not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use logsieve_artifact::forest::{Forest, LEAF, Tree};
use logsieve_plugin::forest::{CompiledForest, average_path_length};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a const-initialised thread-local Cell (no allocation, no lock).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

/// A tree on `psi` rows that halves them at every split, splitting on
/// coordinate `(depth + shift) % dim` at threshold `depth − 1.5`.
fn tree(psi: u32, dim: u32, shift: u32) -> Tree {
    fn node(t: &mut Tree, rows: u32, depth: u32, dim: u32, shift: u32) {
        let i = t.feature.len();
        t.samples.push(rows);
        t.right.push(0);
        if rows == 1 {
            t.feature.push(LEAF);
            t.threshold.push(f64::from(depth));
            return;
        }
        t.feature.push((depth + shift) % dim);
        t.threshold.push(f64::from(depth) - 1.5);
        node(t, rows / 2, depth + 1, dim, shift);
        t.right[i] = t.feature.len() as u32;
        node(t, rows - rows / 2, depth + 1, dim, shift);
    }
    let mut t = Tree { feature: vec![], threshold: vec![], right: vec![], samples: vec![] };
    node(&mut t, psi, 0, dim, shift);
    t
}

#[test]
fn scoring_allocates_nothing() {
    let forest = Forest { max_samples: 16, trees: (0..50).map(|s| tree(16, 4, s)).collect() };
    let f = CompiledForest::new(&forest, 4).unwrap();
    assert_eq!(f.normaliser(), average_path_length(16));
    let features = [0..1, 1..3, 3..4];
    let mut shares = [0.0; 3];
    let events: Vec<[f64; 4]> = (0..64).map(|i| [f64::from(i % 7) - 3.0, f64::from(i % 5), -1.0, 0.5]).collect();
    let before = allocations();
    let mut sum = 0.0;
    for x in &events {
        sum += f.score(x).score;
        sum += f.score_explained(x, &features, &mut shares).mean_path;
        sum += shares[1];
    }
    let after = allocations();
    assert!(sum.is_finite());
    assert_eq!(after - before, 0, "allocations while scoring");
    // The counter counts: building a forest allocates.
    let g = CompiledForest::new(&forest, 4).unwrap();
    assert!(allocations() > after);
    assert_eq!(g.n_trees(), 50);
}
