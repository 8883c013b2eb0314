import CFFmpeg
/// The swscale filter that shrinks decoded pictures to the model's frame.
public enum ScalingFilter: String, Sendable, CaseIterable, Codable {
    /// Bilinear widened to the shrink factor: each output pixel averages its whole source
    /// area (smooth; fine detail and snow average away).
    case bilinear
    /// Bilinear between the nearest source pixels only: keeps per-pixel texture such as snow
    /// and compression noise (aliased, and faster).
    case fast

    var swsFlags: Int32 { self == .bilinear ? Int32(SWS_BILINEAR) : Int32(SWS_FAST_BILINEAR) }
}

/// How a picture of another shape fills the model's frame.
public enum AspectPolicy: String, Sendable, CaseIterable, Codable {
    /// Scale each axis independently to fill the frame (the default: every pixel carries picture).
    case stretch
    /// Keep the display aspect ratio and pad with black bars, centred.
    case letterbox
}

/// Quarter turns applied after scaling so the picture stands as the display matrix says.
public enum Rotation: Int, Sendable, Codable {
    case none = 0, clockwise90 = 90, upsideDown = 180, counterClockwise90 = 270

    /// From `av_display_rotation_get`'s angle (counter-clockwise degrees of the matrix):
    /// the picture must turn by the opposite angle, rounded to a quarter turn.
    public init(displayMatrixDegrees degrees: Double) {
        var turn = (-degrees).rounded()
        turn = turn.truncatingRemainder(dividingBy: 360)
        if turn < 0 { turn += 360 }
        switch Int((turn / 90).rounded()) % 4 {
        case 1: self = .clockwise90
        case 2: self = .upsideDown
        case 3: self = .counterClockwise90
        default: self = .none
        }
    }

    var swapsAxes: Bool { self == .clockwise90 || self == .counterClockwise90 }
}

/// Where the scaled picture lands inside the output frame, before and after rotation.
struct FramePlacement: Equatable {
    /// Size swscale produces (in the source's orientation).
    var scaledWidth: Int, scaledHeight: Int
    /// Top-left of the rotated picture inside the output frame.
    var x: Int, y: Int

    /// - Parameters: display size of the source (SAR applied, before rotation), output size.
    init(sourceWidth: Double, sourceHeight: Double, outWidth: Int, outHeight: Int,
         rotation: Rotation, aspect: AspectPolicy) {
        // Work in the displayed orientation, then swap back for swscale.
        let displayW = rotation.swapsAxes ? sourceHeight : sourceWidth
        let displayH = rotation.swapsAxes ? sourceWidth : sourceHeight
        var w = outWidth, h = outHeight
        if aspect == .letterbox, displayW > 0, displayH > 0 {
            let scale = min(Double(outWidth) / displayW, Double(outHeight) / displayH)
            w = min(outWidth, max(1, Int((displayW * scale).rounded())))
            h = min(outHeight, max(1, Int((displayH * scale).rounded())))
        }
        x = (outWidth - w) / 2
        y = (outHeight - h) / 2
        scaledWidth = rotation.swapsAxes ? h : w
        scaledHeight = rotation.swapsAxes ? w : h
    }
}
