import CFFmpeg

/// One swscale step from whatever the decoder produced to the model's small RGB24 frame
/// (or, for detail statistics, a sharper GRAY8 picture), then the display rotation and
/// placement on a black canvas.
final class FrameScaler {
    let outWidth: Int, outHeight: Int
    let rotation: Rotation
    let aspect: AspectPolicy
    /// RGB24 (3 bytes a pixel) or GRAY8 (1).
    let format: AVPixelFormat
    private var bytesPerPixel: Int { format == AV_PIX_FMT_GRAY8 ? 1 : 3 }
    private let flags: Int32
    private var sws: OpaquePointer?
    private var key: (w: Int32, h: Int32, format: Int32, range: UInt32, space: UInt32) = (0, 0, -1, 0, 0)
    private let scaled = FrameBox()
    private var placement = FramePlacement(sourceWidth: 1, sourceHeight: 1, outWidth: 1, outHeight: 1,
                                           rotation: .none, aspect: .stretch)

    init(outWidth: Int, outHeight: Int, rotation: Rotation, aspect: AspectPolicy, filter: ScalingFilter = .bilinear) {
        format = AV_PIX_FMT_RGB24
        flags = filter.swsFlags
        self.outWidth = outWidth
        self.outHeight = outHeight
        self.rotation = rotation
        self.aspect = aspect
    }

    /// A grey picture point-sampled from the decoded one (no averaging: snow and one-pixel
    /// changes survive), placed like the RGB frame.
    init(greyWidth outWidth: Int, height outHeight: Int, rotation: Rotation, aspect: AspectPolicy) {
        format = AV_PIX_FMT_GRAY8
        flags = Int32(SWS_POINT)
        self.outWidth = outWidth
        self.outHeight = outHeight
        self.rotation = rotation
        self.aspect = aspect
    }

    deinit { sws_freeContext(sws) }

    /// Converts `source` to `outWidth*outHeight*bytesPerPixel` bytes, rows top to bottom (R G B per pixel).
    func convert(_ source: UnsafeMutablePointer<AVFrame>, name: String) throws -> [UInt8] {
        let f = source.pointee
        let current = (f.width, f.height, f.format, f.color_range.rawValue, f.colorspace.rawValue)
        if sws == nil || current != key { try configure(for: source, name: name) }
        av_frame_unref(scaled.frame)
        scaled.frame.pointee.width = Int32(placement.scaledWidth)
        scaled.frame.pointee.height = Int32(placement.scaledHeight)
        scaled.frame.pointee.format = format.rawValue
        try check(av_frame_get_buffer(scaled.frame, 0), .scale, "\(name): cannot allocate a frame")
        try check(sws_scale_frame(sws, scaled.frame, source), .scale, "\(name): cannot convert the frame")

        let bpp = bytesPerPixel
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * bpp)
        let sw = placement.scaledWidth, sh = placement.scaledHeight
        let stride = Int(scaled.frame.pointee.linesize.0)
        let src = UnsafePointer(scaled.frame.pointee.data.0!)
        let ox = placement.x, oy = placement.y, ow = outWidth
        out.withUnsafeMutableBufferPointer { buffer in
            let dst = buffer.baseAddress!
            @inline(__always) func put(_ dx: Int, _ dy: Int, _ s: UnsafePointer<UInt8>) {
                let d = dst + ((oy + dy) * ow + ox + dx) * bpp
                for c in 0..<bpp { d[c] = s[c] }
            }
            switch rotation {
            case .none:
                for y in 0..<sh {
                    (dst + ((oy + y) * ow + ox) * bpp).update(from: src + y * stride, count: sw * bpp)
                }
            case .upsideDown:
                for y in 0..<sh { for x in 0..<sw { put(sw - 1 - x, sh - 1 - y, src + y * stride + x * bpp) } }
            case .clockwise90:      // source (x, y) -> destination (sh-1-y, x)
                for y in 0..<sh { for x in 0..<sw { put(sh - 1 - y, x, src + y * stride + x * bpp) } }
            case .counterClockwise90: // source (x, y) -> destination (y, sw-1-x)
                for y in 0..<sh { for x in 0..<sw { put(y, sw - 1 - x, src + y * stride + x * bpp) } }
            }
        }
        return out
    }

    private func configure(for source: UnsafeMutablePointer<AVFrame>, name: String) throws {
        let f = source.pointee
        guard f.width > 0, f.height > 0, f.format >= 0 else {
            throw FFmpegError(.scale, message: "\(name): decoded frame has no picture (\(f.width)x\(f.height))")
        }
        var sar = av_q2d(f.sample_aspect_ratio)
        if !(sar > 0) || !sar.isFinite { sar = 1 }
        placement = FramePlacement(sourceWidth: Double(f.width) * sar, sourceHeight: Double(f.height),
                                   outWidth: outWidth, outHeight: outHeight, rotation: rotation, aspect: aspect)
        sws_freeContext(sws)
        sws = sws_getContext(f.width, f.height, AVPixelFormat(rawValue: f.format),
                             Int32(placement.scaledWidth), Int32(placement.scaledHeight), format,
                             flags, nil, nil, nil)
        guard let sws else {
            let format = av_get_pix_fmt_name(AVPixelFormat(rawValue: f.format)).map { String(cString: $0) } ?? "\(f.format)"
            throw FFmpegError(.scale, message: "\(name): cannot convert pixel format \(format) at \(f.width)x\(f.height)")
        }
        // Honour the stream's range and matrix (swscale assumes limited-range BT.601 otherwise).
        let fullRange: Int32 = f.color_range == AVCOL_RANGE_JPEG ? 1 : 0
        let matrix: Int32
        switch f.colorspace {
        case AVCOL_SPC_BT709: matrix = SWS_CS_ITU709
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: matrix = SWS_CS_BT2020
        case AVCOL_SPC_SMPTE240M: matrix = SWS_CS_SMPTE240M
        default: matrix = SWS_CS_DEFAULT
        }
        var inv: UnsafeMutablePointer<Int32>? = nil, table: UnsafeMutablePointer<Int32>? = nil
        var srcRange: Int32 = 0, dstRange: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        if sws_getColorspaceDetails(sws, &inv, &srcRange, &table, &dstRange, &brightness, &contrast, &saturation) >= 0 {
            let coefficients = sws_getCoefficients(matrix)
            _ = sws_setColorspaceDetails(sws, coefficients, fullRange | srcRange, coefficients, dstRange,
                                         brightness, contrast, saturation)
        }
        key = (f.width, f.height, f.format, f.color_range.rawValue, f.colorspace.rawValue)
    }
}
