import Dispatch
import COpenBLAS

/// Work split over the machine's cores without oversubscribing: OpenBLAS runs single-threaded
/// and vidformer's own loops hand each core one contiguous slice.
public enum Parallel {
    /// Workers used by `forEachChunk`; set once at start-up (`--threads`).
    nonisolated(unsafe) public static var workers: Int = defaultWorkers()

    public static func defaultWorkers() -> Int {
        max(1, sysconf_processors())
    }

    /// Call once before numeric work: OpenBLAS's own threads would fight ours, and denormal
    /// floats are flushed on the calling thread (`flushDenormals`).
    public static func configureBLAS() {
        openblas_set_num_threads(1)
        flushDenormals()
    }

    /// Flushes denormal floats (below 1.2e-38) to zero on the calling thread, as results and as
    /// inputs (x86's FTZ and DAZ; nothing elsewhere). Attention probabilities of a sharp softmax
    /// and their gradients fall into that range, and on Intel CPUs every operation on one takes
    /// a slow microcode path: training the default recipe ran 5.5 times slower with them (15 s
    /// against 82 s an epoch of 9 videos, same losses). `forEachChunk`/`forEachPart` call it on
    /// their workers; `main` on the main thread.
    @inlinable
    public static func flushDenormals() {
        _ = vidformer_flush_denormals()
    }

    /// Runs `body(range)` over `workers` disjoint slices of `0..<count` (inline when small).
    /// `minimumPerWorker` keeps tiny loops on the calling thread.
    @inlinable
    public static func forEachChunk(_ count: Int, minimumPerWorker: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let parts = min(workers, max(1, count / max(1, minimumPerWorker)))
        if parts <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                flushDenormals()
                let lo = count * p / parts, hi = count * (p + 1) / parts
                if lo < hi { body(lo..<hi) }
            }
        }
    }

    /// Like `forEachChunk`, also passing the slice's index (0..<parts) so each worker can own
    /// private scratch; returns the number of parts used.
    @discardableResult
    public static func forEachPart(_ count: Int, minimumPerWorker: Int = 1, _ body: (Int, Range<Int>) -> Void) -> Int {
        guard count > 0 else { return 0 }
        let parts = min(workers, max(1, count / max(1, minimumPerWorker)))
        if parts <= 1 { body(0, 0..<count); return 1 }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                flushDenormals()
                let lo = count * p / parts, hi = count * (p + 1) / parts
                if lo < hi { body(p, lo..<hi) }
            }
        }
        return parts
    }

    /// How many parts `forEachPart` will use for `count` items.
    public static func partCount(_ count: Int, minimumPerWorker: Int = 1) -> Int {
        count <= 0 ? 0 : min(workers, max(1, count / max(1, minimumPerWorker)))
    }
}

@usableFromInline func sysconf_processors() -> Int {
    #if canImport(Glibc)
    return Int(Glibc.sysconf(Int32(Glibc._SC_NPROCESSORS_ONLN)))
    #else
    return 2
    #endif
}
#if canImport(Glibc)
import Glibc
#endif
