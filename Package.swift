// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "RecurrentKit",
    platforms: [.macOS(.v15)],
    // MARK: - Public products
    products: [
        .library(name: "RecurrentKit", targets: ["RecurrentKit"]),
        .executable(name: "recurrent", targets: ["recurrent"]),
        .executable(name: "recurrent-bench", targets: ["recurrent-bench"]),
        // Opt-in data parallelism over MPI: RecurrentKit alone does not need MPI.
        .library(name: "RecurrentDistributed", targets: ["RecurrentDistributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: - Public products
        .target(
            name: "RecurrentKit",
            dependencies: ["RecurrentCore", "CPUBackend", "OpenCLBackend"]),
        .executableTarget(name: "recurrent", dependencies: ["RecurrentTool"]),
        // The commands of `recurrent`, as a library so tests can run them.
        .target(
            name: "RecurrentTool",
            dependencies: [
                "RecurrentKit", "RecurrentDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .target(name: "RecurrentDistributed", dependencies: ["RecurrentKit", "CMPI"]),

        // MARK: - Implementation
        .target(name: "RecurrentCore"),
        .target(name: "CPUBackend", dependencies: ["RecurrentCore", "COpenBLAS", "CRecurrentGEMM"]),
        // Products with recurrent weights packed once per sequence (AVX2/FMA, chosen at run time).
        .target(name: "CRecurrentGEMM"),
        // Plain, obviously-correct loops: the reference every fast op is checked against.
        .target(name: "ReferenceBackend", dependencies: ["RecurrentCore"]),
        .target(name: "OpenCLBackend", dependencies: ["RecurrentCore", "Kernels", "COpenCL", "CCLBlast"]),
        // The OpenCL C sources, embedded into the binary (PackageResources.lstm_cl, ...).
        .target(
            name: "Kernels",
            path: "Kernels",
            exclude: ["README.md"],
            resources: ["common.cl", "philox.cl", "elementwise.cl", "reduction.cl", "loss.cl", "optimizer.cl",
                        "dropout.cl", "embedding.cl", "attention.cl", "lstm.cl", "gru.cl", "rnn.cl", "time_loop.cl",
                        "persistent.cl"].map { .embedInCode($0) }),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CCLBlast", path: "Sources/CCLBlast"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

        // MARK: - Benchmarks
        .executableTarget(
            name: "recurrent-bench",
            dependencies: [
                "RecurrentKit", "ReferenceBackend",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/recurrent-bench"),

        // MARK: - Tests
        // Run by .ci/run under mpirun: data-parallel training against one process.
        .executableTarget(
            name: "distributed-check",
            dependencies: ["RecurrentDistributed", "RecurrentKit"],
            path: "Tests/DistributedCheck"),
        .target(
            name: "TestSupport",
            dependencies: ["RecurrentKit", "ReferenceBackend"],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "RecurrentCoreTests",
            dependencies: ["RecurrentCore"]),
        .testTarget(
            name: "BackendTests",
            dependencies: ["RecurrentKit", "ReferenceBackend", "TestSupport"]),
        // CPU against OpenCL in one process (whatever RECURRENT_DEVICE says): per-op parity,
        // Philox streams, whole training runs, device selection and errors.
        .testTarget(
            name: "CrossDeviceTests",
            dependencies: ["RecurrentKit", "OpenCLBackend", "TestSupport"]),
        .testTarget(
            name: "RecurrentToolTests",
            dependencies: ["RecurrentTool", "TestSupport"]),
        .testTarget(
            name: "RecurrentKitTests",
            dependencies: ["RecurrentKit", "TestSupport"],
            resources: [.copy("Fixtures")]),
    ]
)
