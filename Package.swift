// swift-tools-version: 6.1
import PackageDescription

// The data flows left to right through these targets:
//   Configuration -> Tiling -> Raster (GDAL) -> Pipeline -> Results -> Cluster -> MGPRCommands -> mgpr
// with the networks beside them: Weights -> Engine -> Models, compiled by a backend
// (CPUBackend on oneDNN; CUDABackend on CUDA, NVIDIA's libraries opened at run time).
// Models describe networks as graphs and detectors as programs (Engine's graphs and
// detection steps); backends compile both and know no model.
// Tiling is pure math (windows, grids, georeferencing) and imports nothing native;
// only Raster touches GDAL; only the pipeline joins sources, models and results; every
// result format, written or read, is Results'; MGPRCommands parses, looks up and calls.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "mgpr",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mgpr", targets: ["mgpr"]),
        .executable(name: "mgpr-test-image", targets: ["mgpr-test-image"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CGDAL", path: "Sources/CGDAL", pkgConfig: "gdal",
            providers: [.apt(["libgdal-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // What the operating system says of files, behind one namespace.
        .target(name: "Platform", swiftSettings: swiftSettings),
        .target(name: "Tiling", swiftSettings: swiftSettings),
        .target(name: "Raster", dependencies: ["CGDAL", "Platform", "Tiling"], swiftSettings: swiftSettings),
        .target(name: "Weights", dependencies: ["Platform"], swiftSettings: swiftSettings),
        .target(name: "Engine", dependencies: ["Weights"], swiftSettings: swiftSettings),
        // oneDNN 3, installed by scripts/setup.sh from PyPI (Debian 12 has only 2.x).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", pkgConfig: "dnnl"),
        // Winograd's data transforms, in C optimised in every build (debug builds of the
        // tests run them at speed), each compiled for AVX2 and for any x86-64.
        .target(name: "CWinograd", cSettings: [.unsafeFlags(["-O3", "-Wno-psabi"])]),
        .target(name: "CPUBackend", dependencies: ["CDNNL", "CWinograd", "Engine", "Weights"], swiftSettings: swiftSettings),
        // NVIDIA GPUs through libraries opened at run time (no CUDA is needed to build):
        // finding and opening them, their function tables and errors, devices, and owners
        // for streams, events and device and pinned memory.
        .target(name: "CUDA", dependencies: ["Platform"], swiftSettings: swiftSettings),
        // Plans and kernels on those GPUs.
        .target(name: "CUDABackend", dependencies: ["CUDA", "Engine", "Platform", "Weights"], swiftSettings: swiftSettings),
        // Each op on every backend present, held to the CPU backend, and the detector's
        // kernels held to the CPU functions they mirror (tests and `mgpr conformance`).
        .target(
            name: "Conformance", dependencies: ["CUDABackend", "Engine", "Models", "Tiling", "Weights"], swiftSettings: swiftSettings),
        .target(name: "Models", dependencies: ["Engine", "Tiling", "Weights"], swiftSettings: swiftSettings),
        .target(name: "Configuration", dependencies: ["Tiling", "Weights", "Yams"], swiftSettings: swiftSettings),
        // Every result format, written and read: rank parts, final CSV/GeoPackage/GeoJSON,
        // metrics.csv, summary.json.
        .target(name: "Results", dependencies: ["Configuration", "Engine", "Models", "Platform", "Raster", "Tiling"], swiftSettings: swiftSettings),
        .target(
            name: "Pipeline", dependencies: ["Engine", "Models", "Platform", "Raster", "Results", "Tiling", "Weights"],
            swiftSettings: swiftSettings),
        .target(name: "Cluster", dependencies: ["Platform", "Results", "Tiling"], swiftSettings: swiftSettings),
        .target(
            name: "MGPRCommands",
            dependencies: ["CMalloc", "Cluster", "Configuration", "Conformance", "CPUBackend", "CUDA", "CUDABackend", "Engine", "Models", "Pipeline", "Platform", "Raster", "Results", "Tiling", "Weights"],
            swiftSettings: swiftSettings),
        .executableTarget(name: "mgpr", dependencies: ["MGPRCommands"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "mgpr-test-image", dependencies: ["MGPRCommands"], swiftSettings: swiftSettings),
        .target(name: "TestSupport", dependencies: ["Raster", "Tiling"], path: "Tests/TestSupport"),
        .testTarget(
            name: "ModelTests", dependencies: ["CPUBackend", "Engine", "Models", "Weights", "TestSupport"],
            exclude: ["reference"], swiftSettings: swiftSettings),
        .testTarget(
            name: "WeightsTests", dependencies: ["Engine", "Models", "Tiling", "Weights", "TestSupport"], exclude: ["reference"],
            swiftSettings: swiftSettings),
        .testTarget(name: "EngineTests", dependencies: ["CPUBackend", "Engine", "Models", "Weights", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CUDATests", dependencies: ["Conformance", "CPUBackend", "CUDA", "CUDABackend", "Engine", "Models", "Tiling", "Weights", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Platform", "Results", "Tiling"], swiftSettings: swiftSettings),
        .testTarget(name: "ResultsTests", dependencies: ["Engine", "Models", "Results", "Tiling"], swiftSettings: swiftSettings),
        .testTarget(name: "TilingTests", dependencies: ["TestSupport", "Tiling"], swiftSettings: swiftSettings),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"], swiftSettings: swiftSettings),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration", "Tiling"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RasterTests", dependencies: ["Raster", "Tiling", "TestSupport"], exclude: ["reference"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PipelineTests", dependencies: ["Engine", "Pipeline", "Raster", "Results", "Tiling", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EndToEndTests", dependencies: ["CUDA", "CUDABackend", "Cluster", "MGPRCommands", "Configuration", "Raster", "Tiling", "TestSupport", "Weights"],
            exclude: ["support"], swiftSettings: swiftSettings),
    ]
)
