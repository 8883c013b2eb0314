/// A small declarative argument parser that behaves like swift-argument-parser:
/// `--opt value`, `--opt=value`, flags, `--` ending options, help and usage errors.

/// One option or flag of a command.
struct OptionSpec {
    /// Long name without dashes (`fps`); `short` is one letter (`o`).
    var name: String
    var short: Character?
    /// Placeholder for the value (`<n>`); nil makes this a flag.
    var value: String?
    var help: String
    var defaultText: String?
    var allowed: [String]?
    /// May be given several times (values accumulate).
    var repeatable = false

    static func flag(_ name: String, short: Character? = nil, _ help: String) -> OptionSpec {
        OptionSpec(name: name, short: short, value: nil, help: help)
    }
    static func option(_ name: String, short: Character? = nil, _ value: String, _ help: String,
                       default defaultText: String? = nil, allowed: [String]? = nil, repeatable: Bool = false) -> OptionSpec {
        OptionSpec(name: name, short: short, value: value, help: help, defaultText: defaultText,
                   allowed: allowed, repeatable: repeatable)
    }
}

struct ArgumentSpec {
    var name: String
    var help: String
    var optional = false
}

/// What a command looks like to its user; `run` receives the parsed values.
struct CommandSpec {
    var name: String
    var abstract: String
    var discussion: String?
    var arguments: [ArgumentSpec] = []
    var options: [OptionSpec] = []
    var run: (ParsedArguments) throws -> Int32
}

/// A usage error (exit 64) or a failure (exit 1), rendered in one place.
enum CLIError: Error {
    case usage(String, command: String?)
    case failure(String)
    /// Several files failed while others succeeded (`annotate`).
    case partial(String)
}

struct ParsedArguments {
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    let command: String

    func has(_ flag: String) -> Bool { flags.contains(flag) }
    func string(_ name: String) -> String? { values[name]?.last }
    func strings(_ name: String) -> [String] { values[name] ?? [] }

    func double(_ name: String) throws -> Double? {
        guard let text = string(name) else { return nil }
        guard let v = Double(text), v.isFinite else {
            throw CLIError.usage("--\(name) expects a number, got '\(text)'", command: command)
        }
        return v
    }
    func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let v = Int(text) else { throw CLIError.usage("--\(name) expects an integer, got '\(text)'", command: command) }
        return v
    }
    /// A flag pair `--x`/`--no-x`: the last one given wins; nil when neither was.
    func toggle(_ name: String) -> Bool? {
        if flags.contains(name) { return true }
        if flags.contains("no-" + name) { return false }
        return nil
    }
}

enum ArgumentParser {
    static func parse(_ args: [String], for spec: CommandSpec) throws -> ParsedArguments {
        var parsed = ParsedArguments(command: spec.name)
        var i = 0
        var onlyPositionals = false
        func lookup(long: String) -> OptionSpec? { spec.options.first { $0.name == long } }
        while i < args.count {
            let arg = args[i]
            i += 1
            if onlyPositionals || arg == "-" || !arg.hasPrefix("-") {
                parsed.positionals.append(arg)
                continue
            }
            if arg == "--" { onlyPositionals = true; continue }
            var name: String
            var inlineValue: String?
            if arg.hasPrefix("--") {
                name = String(arg.dropFirst(2))
                if let eq = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
            } else {
                let letters = Array(arg.dropFirst())
                guard let first = letters.first, let match = spec.options.first(where: { $0.short == first }) else {
                    throw CLIError.usage("unknown option '\(arg)'", command: spec.name)
                }
                name = match.name
                if letters.count > 1 { inlineValue = String(letters.dropFirst()) }
            }
            guard let option = lookup(long: name) else {
                throw CLIError.usage("unknown option '--\(name)'", command: spec.name)
            }
            if option.value == nil {
                if inlineValue != nil { throw CLIError.usage("--\(name) takes no value", command: spec.name) }
                parsed.flags.insert(name)
                // A later --x overrides an earlier --no-x and the other way round.
                if name.hasPrefix("no-") { parsed.flags.remove(String(name.dropFirst(3))) } else { parsed.flags.remove("no-" + name) }
                continue
            }
            let value: String
            if let inlineValue { value = inlineValue } else {
                guard i < args.count else { throw CLIError.usage("--\(name) needs a value \(option.value!)", command: spec.name) }
                value = args[i]
                i += 1
            }
            if let allowed = option.allowed, !allowed.contains(value) {
                throw CLIError.usage("--\(name) must be one of \(allowed.joined(separator: ", ")); got '\(value)'", command: spec.name)
            }
            if option.repeatable { parsed.values[name, default: []].append(value) } else { parsed.values[name] = [value] }
        }
        let required = spec.arguments.filter { !$0.optional }.count
        if parsed.positionals.count < required {
            let missing = spec.arguments[parsed.positionals.count].name
            throw CLIError.usage("missing argument <\(missing)>", command: spec.name)
        }
        if parsed.positionals.count > spec.arguments.count {
            throw CLIError.usage("unexpected argument '\(parsed.positionals[spec.arguments.count])'", command: spec.name)
        }
        return parsed
    }
}

enum HelpText {
    static func render(_ spec: CommandSpec, toolName: String = "vidformer") -> String {
        var out = "OVERVIEW: \(spec.abstract)\n"
        if let discussion = spec.discussion { out += "\n\(discussion)\n" }
        out += "\nUSAGE: \(usage(spec, toolName: toolName))\n"
        if !spec.arguments.isEmpty {
            out += "\nARGUMENTS:\n"
            for a in spec.arguments { out += line("<\(a.name)>", a.help) }
        }
        out += "\nOPTIONS:\n"
        for o in spec.options {
            var left = o.short.map { "-\($0), " } ?? ""
            left += "--\(o.name)"
            if let v = o.value { left += " \(v)" }
            var help = o.help
            if let allowed = o.allowed { help += " (values: \(allowed.joined(separator: ", ")))" }
            if let d = o.defaultText { help += " (default: \(d))" }
            out += line(left, help)
        }
        out += line("-h, --help", "Show help information.")
        return out
    }

    static func usage(_ spec: CommandSpec, toolName: String = "vidformer") -> String {
        var parts = ["\(toolName) \(spec.name)"]
        if !spec.options.isEmpty { parts.append("[<options>]") }
        for a in spec.arguments { parts.append(a.optional ? "[<\(a.name)>]" : "<\(a.name)>") }
        return parts.joined(separator: " ")
    }

    static func line(_ left: String, _ right: String) -> String {
        let pad = 26
        if left.count + 2 >= pad { return "  \(left)\n" + String(repeating: " ", count: pad) + right + "\n" }
        return "  " + left + String(repeating: " ", count: pad - 2 - left.count) + right + "\n"
    }
}
