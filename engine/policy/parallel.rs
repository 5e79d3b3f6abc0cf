//! Work shared out over the cores, results in the input's order, on rayon.
//!
//! The per-record passes (reading, parsing, indexing, classifying 100,000 records) are
//! independent per item. Each pass asks for a number of workers; the items are split into
//! that many contiguous pieces at most (`with_min_len`), so a small input stays on one
//! thread, and the results are collected in the items' order straight into one output of
//! exactly their size. A worker's panic is re-raised, never turned into missing results.

use rayon::prelude::*;

/// The cores to use (at most 8: beyond that the passes are memory-bound).
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8)
}

/// How many workers `items` items are worth: at least `min_each` items a worker (a piece
/// of work costs tens of microseconds to hand out, the corpus's whole classification
/// 0.2 ms), at most `max`.
pub fn workers(items: usize, min_each: usize, max: usize) -> usize {
    (items / min_each.max(1)).clamp(1, max.max(1))
}

/// Run `f` on a pool of `workers` threads: rayon's global pool when it has that many, else
/// a pool of its own for this pass (reading a cold tree waits on the disk: more readers
/// than cores keep the cores busy).
fn on_workers<R: Send>(workers: usize, f: impl FnOnce() -> R + Send) -> R {
    if workers <= rayon::current_num_threads() {
        return f();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(workers).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// `f` over `items` on `workers` threads, results in the items' order.
pub fn map<I: Send, T: Send>(items: &mut [I], workers: usize, f: impl Fn(&mut I) -> T + Sync + Send) -> Vec<T> {
    if workers <= 1 {
        return items.iter_mut().map(f).collect();
    }
    let piece = items.len().div_ceil(workers).max(1);
    on_workers(workers, || items.par_iter_mut().with_min_len(piece).map(f).collect())
}

/// `f` on every item in place (with its index), on `workers` threads.
pub fn for_each<I: Send>(items: &mut [I], workers: usize, f: impl Fn(usize, &mut I) + Sync + Send) {
    if workers <= 1 {
        return items.iter_mut().enumerate().for_each(|(i, item)| f(i, item));
    }
    let piece = items.len().div_ceil(workers).max(1);
    on_workers(workers, || items.par_iter_mut().enumerate().with_min_len(piece).for_each(|(i, item)| f(i, item)))
}

/// `f` over `items`, each its own piece of work (their costs differ by 100x: a worker
/// that is done takes the next), results in the items' order.
pub fn map_each<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync + Send) -> Vec<T> {
    items.par_iter().with_max_len(1).map(f).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order_whatever_the_workers() {
        for workers in [1, 2, 3, 8, 64] {
            let mut items: Vec<u32> = (0..1000).collect();
            assert_eq!(super::map(&mut items, workers, |x| *x * 2), (0..1000).map(|x| x * 2).collect::<Vec<_>>());
            super::for_each(&mut items, workers, |i, x| *x += i as u32);
            assert_eq!(items, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
        }
        assert!(super::map(&mut Vec::<u32>::new(), 2, |x| *x).is_empty());
        assert_eq!(super::workers(813, 4096, 2), 1);
        assert_eq!(super::workers(100_000, 4096, 2), 2);
        assert_eq!(super::workers(0, 64, 8), 1);
    }
}
