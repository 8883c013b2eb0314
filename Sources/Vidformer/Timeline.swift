import Foundation

/// An SVG picture of a result: one band per label, coloured where that label holds, over a
/// time axis with readable ticks.
public enum Timeline {
    static let palette = ["#4e79a7", "#222222", "#e15759", "#bab0ac", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7"]

    public static func svg(_ r: ClassifyResult, width: Int = 960) -> String {
        let left = 90.0, right = 20.0, top = 30.0, band = 22.0, gap = 6.0
        let plot = Double(width) - left - right
        let height = top + Double(r.labels.count) * (band + gap) + 40
        let span = max(r.duration, 1e-6)
        let origin = r.segments.first?.start ?? 0
        func x(_ t: Double) -> Double { left + (t - origin) / span * plot }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(Int(height))" viewBox="0 0 \(width) \(Int(height))" font-family="sans-serif" font-size="12">
        <title>\(escape(r.input)): labels over time</title>
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="18" font-size="13">\(escape(r.input)) — \(escape(r.modelName)) model, \(Format.clock(r.duration))</text>

        """
        for (i, label) in r.labels.enumerated() {
            let y = top + Double(i) * (band + gap)
            let colour = palette[i % palette.count]
            out += "<text x=\"\(left - 8)\" y=\"\(y + band * 0.7)\" text-anchor=\"end\">\(escape(label))</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(plot)\" height=\"\(band)\" fill=\"#f2f2f2\"/>\n"
            for s in r.segments where s.label == label {
                let w = max(0.5, x(s.end) - x(s.start))
                out += String(format: "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%@\"><title>%@ %@–%@ (%.2f)</title></rect>\n",
                              x(s.start), y, w, band, colour, escape(label), Format.clock(s.start), Format.clock(s.end), s.score)
            }
        }
        let axisY = top + Double(r.labels.count) * (band + gap) + 4
        out += "<line x1=\"\(left)\" y1=\"\(axisY)\" x2=\"\(left + plot)\" y2=\"\(axisY)\" stroke=\"#555\"/>\n"
        let step = tickStep(span)
        var t = 0.0
        while t <= span + 1e-9 {
            let px = x(origin + t)
            out += String(format: "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#555\"/>", px, axisY, px, axisY + 5)
            out += String(format: "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", px, axisY + 18, Format.clock(origin + t))
            t += step
        }
        out += "</svg>\n"
        return out
    }

    /// A round tick interval giving at most about ten ticks.
    static func tickStep(_ span: Double) -> Double {
        let steps: [Double] = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400]
        return steps.first { span / $0 <= 10 } ?? 36000
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
