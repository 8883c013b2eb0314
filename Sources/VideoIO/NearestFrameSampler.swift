/// Picks, for each point of a `1/fps` grid, the frame whose time is nearest to it, in one pass
/// and holding one frame: a frame is the nearest to a grid point `g` exactly when `g` lies
/// between the midpoints to its neighbours, so each decision waits for just the next frame.
///
/// Each frame is chosen at most once: where frames are sparser than the grid, a frame nearest
/// to several grid points is emitted once (sample times are always real PTS times, never
/// invented). With no `fps`, every frame is chosen.
public struct NearestFrameSampler: Sendable {
    public let interval: Double?
    /// The next grid point still waiting for its nearest frame.
    public private(set) var nextGrid: Double
    private var held: (time: Double, chosen: Bool)?
    private var lastDelta: Double = 0

    public init(fps: Double?, start: Double = 0) {
        interval = fps.map { 1 / $0 }
        nextGrid = start
    }

    /// Offers a frame at `time` (strictly increasing). Returns whether the previously held frame
    /// was chosen (the caller then emits it); the new frame becomes the held one.
    public mutating func offer(_ time: Double) -> Bool {
        guard let interval else {
            let emitPrevious = held != nil
            held = (time, true)
            return emitPrevious
        }
        guard var previous = held else {
            held = (time, false)
            return false
        }
        let midpoint = (previous.time + time) / 2
        while nextGrid <= midpoint {
            // The held frame is nearest to this grid point (ties go to the earlier frame).
            previous.chosen = true
            nextGrid += interval
        }
        lastDelta = time - previous.time
        held = (time, false)
        return previous.chosen
    }

    /// At the end of the stream: whether the held (last) frame is chosen. It is when a grid point
    /// remains before the end of its display interval: one frame duration after it, the last gap
    /// between frames or the stream's nominal frame duration, whichever is shorter (frames the
    /// decoder skipped make the last gap longer than a frame).
    public mutating func finish(nominalFrameDuration: Double? = nil) -> Bool {
        guard let last = held else { return false }
        held = nil
        guard let interval else { return last.chosen }
        var chosen = false
        var duration = lastDelta > 0 ? lastDelta : (nominalFrameDuration ?? 1e-9)
        if let nominal = nominalFrameDuration, nominal > 0 { duration = min(duration, nominal) }
        let end = last.time + max(duration, 1e-9)
        while nextGrid < end { chosen = true; nextGrid += interval }
        return chosen
    }
}
