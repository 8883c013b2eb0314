import Foundation

/// A JSON value whose objects keep their key order, so documents read in the order the
/// contract shows them.
public indirect enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.rendered() == b.rendered() }

    /// Seconds and scores: rounded to the microsecond, printed in the shortest form.
    public static func time(_ x: Double) -> JSONValue { .number((x * 1e6).rounded() / 1e6) }

    public func rendered(pretty: Bool = false, indent: Int = 0) -> String {
        let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let close = pretty ? String(repeating: "  ", count: indent) : ""
        let nl = pretty ? "\n" : ""
        switch self {
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            let body = pairs.map { "\(pad)\(Self.quote($0.0)):\(pretty ? " " : "")\($0.1.rendered(pretty: pretty, indent: indent + 1))" }
            return "{" + nl + body.joined(separator: "," + nl) + nl + close + "}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            // Arrays of scalars and of small objects stay on one line each.
            let body = items.map { pad + $0.rendered(pretty: false) }
            return "[" + nl + body.joined(separator: "," + nl) + nl + close + "]"
        case .string(let s): return Self.quote(s)
        case .number(let x):
            guard x.isFinite else { return "null" }
            if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
            return "\(x)"
        case .integer(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
