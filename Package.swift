// swift-tools-version:5.9
import PackageDescription

// The pipeline reads top to bottom: FFmpeg frames -> tokens -> Reformer -> labels.
// Each stage is one module and depends only on the stages above it.

/// Optimisation flags for the numeric modules: the kernels index raw buffers inside
/// `withUnsafe…` closures, so the checks `-Ounchecked` drops are the ones we already prove.
let numericFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "vidformer",
    products: [
        .executable(name: "vidformer", targets: ["vidformer"]),
        .library(name: "Vidformer", targets: ["Vidformer"]),
    ],
    targets: [
        // MARK: C libraries from Debian (system-library targets: module map + shim only)
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // MARK: Stages
        .target(name: "TensorCore", dependencies: ["COpenBLAS"], swiftSettings: numericFlags),
        .target(name: "VideoIO", dependencies: ["CFFmpeg"], swiftSettings: numericFlags),
        .target(name: "ReformerModel", dependencies: ["TensorCore"], swiftSettings: numericFlags),
        .target(name: "Vidformer", dependencies: ["VideoIO", "ReformerModel", "TensorCore"]),

        // MARK: The executable: argument parsing, commands, progress display
        .executableTarget(name: "vidformer", dependencies: ["Vidformer", "TensorCore"]),

        // MARK: Fuzzing (Tools/fuzz.sh builds it with -sanitize=fuzzer; a plain build is a replayer)
        .executableTarget(name: "vidformer-fuzz", dependencies: ["Vidformer", "VideoIO", "ReformerModel"], path: "Sources/vidformer-fuzz"),

        // MARK: The Reformer paper's duplication task (Tools/duplication_task.sh)
        .executableTarget(name: "vidformer-duplication", dependencies: ["ReformerModel", "TensorCore"], path: "Tools/DuplicationTask",
                          swiftSettings: numericFlags),

        // MARK: Tests (one target per module; helpers shared through _TestSupport)
        .target(name: "_TestSupport", path: "Tests/_TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "_TestSupport"]),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO", "_TestSupport"]),
        .testTarget(name: "ReformerModelTests", dependencies: ["ReformerModel", "TensorCore", "_TestSupport"]),
        .testTarget(name: "VidformerTests", dependencies: ["Vidformer", "TensorCore", "vidformer", "vidformer-fuzz", "_TestSupport"]),
    ]
)
