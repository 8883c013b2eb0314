import Foundation
import Vidformer
import VideoIO
import TensorCore

/// Entry point: picks the subcommand, parses its arguments, renders errors in one place.
enum Main {
    static let commands: [CommandSpec] = [Commands.classify, Commands.annotate, Commands.train, Commands.evaluate, Commands.probe, Commands.bench]

    static let rootHelp: String = {
        var out = "OVERVIEW: Labels what happens over time in long videos (FFmpeg decoding + a Reformer).\n"
        out += "\nUSAGE: vidformer <subcommand>\n\nOPTIONS:\n"
        out += HelpText.line("--version", "Show the version.")
        out += HelpText.line("-h, --help", "Show help information.")
        out += "\nSUBCOMMANDS:\n"
        for c in commands { out += HelpText.line(c.name, c.abstract) }
        out += HelpText.line("help", "Show help for a subcommand.")
        out += "\n  See 'vidformer help <subcommand>' for detailed help.\n"
        return out
    }()

    static func run(_ args: [String]) -> Int32 {
        guard let first = args.first else {
            FileHandle.standardError.write(Data(rootHelp.utf8))
            return 64
        }
        switch first {
        case "-h", "--help":
            print(rootHelp, terminator: "")
            return 0
        case "--version":
            print("vidformer \(VidformerInfo.version)")
            return 0
        case "help":
            guard args.count > 1 else { print(rootHelp, terminator: ""); return 0 }
            guard let spec = commands.first(where: { $0.name == args[1] }) else {
                return report(.usage("unknown subcommand '\(args[1])'", command: nil))
            }
            print(HelpText.render(spec), terminator: "")
            return 0
        default:
            break
        }
        guard let spec = commands.first(where: { $0.name == first }) else {
            return report(.usage("unknown subcommand '\(first)'", command: nil))
        }
        let rest = Array(args.dropFirst())
        // Help flags count only before `--` (after it they are file names).
        let options = rest.firstIndex(of: "--").map { Array(rest[..<$0]) } ?? rest
        if options.contains("-h") || options.contains("--help") {
            print(HelpText.render(spec), terminator: "")
            return 0
        }
        do {
            let parsed = try ArgumentParser.parse(rest, for: spec)
            return try spec.run(parsed)
        } catch let error as CLIError {
            return report(error)
        } catch {
            return report(.failure("\(error)"))
        }
    }

    static func report(_ error: CLIError) -> Int32 {
        switch error {
        case .usage(let message, let command):
            var text = "Error: \(message)\n"
            if let command, let spec = commands.first(where: { $0.name == command }) {
                text += "Usage: \(HelpText.usage(spec))\n  See 'vidformer \(command) --help' for more information.\n"
            } else {
                text += "Usage: vidformer <subcommand>\n  See 'vidformer --help' for more information.\n"
            }
            FileHandle.standardError.write(Data(text.utf8))
            return 64
        case .failure(let message):
            FileHandle.standardError.write(Data("vidformer: \(message)\n".utf8))
            return 1
        case .partial(let message):
            FileHandle.standardError.write(Data("vidformer: \(message)\n".utf8))
            return 3
        }
    }
}

#if os(Linux)
// OpenBLAS on a CPU it does not recognise runs its slowest kernels; start again with the right
// ones before anything is read or written (BLASKernels). If exec fails, carry on as we are.
if let coreType = BLASKernels.betterCoreType(environment: ProcessInfo.processInfo.environment,
                                             coreName: BLASKernels.coreName, cpuFlags: BLASKernels.cpuFlags()) {
    setenv("OPENBLAS_CORETYPE", coreType, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
}
#endif
Parallel.flushDenormals()
exit(Main.run(Array(CommandLine.arguments.dropFirst())))
