import Configuration
import Foundation
import Pipeline
import Platform

/// The entry points of the executables: parse, dispatch, and turn any error into one
/// clear line and an exit code (2: the command line or configuration; 1: the run).
public enum Main {
    public static let version = "0.1.0"

    public static func mgpr(_ arguments: [String]) -> Int32 {
        ProcessTuning.apply()
        Terminal.holdClosedStreams()
        Terminal.ignoreBrokenPipes()
        switch arguments.first {
        case "merge":
            return dispatch(Array(arguments.dropFirst()), program: "mgpr merge",
                summary: "merge the ranks of a finished (or interrupted) run: mgpr merge run_dir=DIR",
                keys: ConfigSchema.mergeKeys, usage: "mgpr merge run_dir=DIR [output=PATH] [gather_timeout=S]") {
                try MergeCommand(config: $0).run()
            }
        case "report":
            return dispatch(Array(arguments.dropFirst()), program: "mgpr report",
                summary: "write report.html for a run (settings, throughput, time, memory, a map of the tiles): mgpr report run_dir=DIR",
                keys: ConfigSchema.mergeKeys, usage: "mgpr report run_dir=DIR") {
                try ReportCommand(config: $0).run()
            }
        case "slurm":
            if arguments.contains("--help") || arguments.contains("-h") {
                Terminal.standardOutput(
                    "mgpr slurm gpus=N nodes=M cpus=C time=HH:MM:SS partition=P [gpu_type=a100] [key=value ...]\n"
                        + "  prints a SLURM job file for these options; other keys are mgpr's (mgpr --help)\n")
                return outputChecked(0)
            }
            return outputChecked(guarded(program: "mgpr slurm") { try SlurmCommand.run(Array(arguments.dropFirst())) })
        case "conformance":
            return guarded(program: "mgpr conformance") { try ConformanceCommand.run() }
        case "forward":
            let paths = arguments.dropFirst().prefix { !$0.contains("=") && !$0.hasPrefix("-") }
            let keys = Array(arguments.dropFirst(1 + paths.count))
            guard paths.count == 2 || keys.contains(where: { $0.hasPrefix("-") }) else {
                Terminal.standardError("mgpr forward: error: give INPUT.npy OUTPUT.npy, then key=value settings\n")
                return 2
            }
            let (input, output) = (paths.first ?? "", paths.last ?? "")
            return dispatch(keys, program: "mgpr forward",
                summary: "ResNet50's logits for a float32 [N,3,H,W] .npy of pixels in [0,1], written as [N,classes] .npy "
                    + "(the network alone, on the device and precision the keys choose: for checking against PyTorch)",
                keys: ConfigSchema.runKeys, usage: "mgpr forward INPUT.npy OUTPUT.npy [model=resnet50|fasterrcnn weights=W precision=P accelerator=A tf32=B]") {
                try ForwardCommand(input: input, output: output, config: $0).run()
            }
        case "doctor":
            let verbose = arguments.contains("-v") || arguments.contains("--verbose")
            return dispatch(Array(arguments.dropFirst()).filter { $0 != "-v" && $0 != "--verbose" }, program: "mgpr doctor",
                summary: "check this machine, its libraries and its SLURM context, what a run with these keys would use "
                    + "(raster, weights, output), then a short smoke run per device",
                keys: ConfigSchema.runKeys, usage: "mgpr doctor [-v] [key=value ...]  (the keys of the run to check; -v: where each library was looked for)") {
                try DoctorCommand(config: $0, verbose: verbose).run()
            }
        default:
            return dispatch(arguments, program: "mgpr", summary: "run a CNN over every tile of a raster, on every device",
                keys: ConfigSchema.runKeys, sections: [Self.subcommands, Self.exitCodes]) {
                try PredictCommand(config: $0).run()
            }
        }
    }

    public static func testImage(_ arguments: [String]) -> Int32 {
        Terminal.holdClosedStreams()
        Terminal.ignoreBrokenPipes()
        return dispatch(arguments, program: "mgpr-test-image",
            summary: "write a random, georeferenced test GeoTIFF of image_size px to image_path",
            keys: ConfigSchema.testImageKeys, sections: [Self.testImageExitCodes]) {
            try TestImageCommand(config: $0).run()
            return 0
        }
    }

    /// Ends the process with `status`. When a run left a reader blocked in a read (see
    /// ``AbandonedThreads``), it ends as a killed process would, without the libraries'
    /// exit-time cleanup (GDAL's would wait on the locks that reader holds): every file
    /// mgpr writes is closed and synced by then, and its output goes out unbuffered.
    public static func exit(_ status: Int32) -> Never {
        if AbandonedThreads.any {
            fflush(nil)
            _exit(status)
        }
        Foundation.exit(status)
    }

    /// 1 where a command's product, its standard output, could not be written (as
    /// coreutils do), the line saying why already on standard error. A run's product is
    /// its results file, so a run's status stands when only its log was lost.
    static func outputChecked(_ status: Int32) -> Int32 {
        status == 0 && Terminal.standardOutputFailed ? 1 : status
    }

    /// Runs `body`, turning any error into one line and an exit code.
    static func guarded(program: String, _ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch let error as ConfigError {
            Terminal.standardError("\(program): error: \(errorLine(error))\n")
            return 2
        } catch {
            Terminal.standardError("\(program): error: \(errorLine(Self.oneLine(error)))\n")
            return 1
        }
    }

    /// An error as one bounded line, whatever text from files it carries (a label name
    /// with a newline, a 10 MB value).
    static func errorLine(_ error: Any) -> String { DisplayText.inert("\(error)", limit: 2000) }

    /// Our errors describe themselves in one line; a Foundation error that reaches here
    /// is reduced to its POSIX reason, never Cocoa's multi-line dump.
    static func oneLine(_ error: any Error) -> String { SystemError.reason(error) }

    static let subcommands = """
        SUBCOMMANDS:
          mgpr doctor [key=value ...]   check the machine, libraries, SLURM context and this run's inputs; smoke-run each device
          mgpr slurm gpus=N ...         print a SLURM job file for these options (mgpr slurm --help)
          mgpr merge run_dir=DIR        gather the ranks of a finished or stopped run into its results file
          mgpr report run_dir=DIR       write DIR/report.html: settings, throughput, time, memory, a map of the tiles (runs write it too)
          mgpr conformance              hold every op on each GPU to the CPU backend (exit 3 when there is no GPU, saying why)
          mgpr forward IN.npy OUT.npy [key=value ...]
                                        ResNet50's logits or Faster R-CNN's detections for a float32 [N,3,H,W] batch of pixels in [0,1], for checks against PyTorch
        """

    static let exitCodes = """
        EXIT CODES:
          0   done
          1   the run failed (a file, a read, a lost rank); the error line says which
          2   the command line or configuration is wrong; the error line names the key
          75  stopped by SIGTERM, SIGUSR1, SIGHUP or Ctrl-C with its work kept: run again with resume=true
        """

    static let testImageExitCodes = """
        EXIT CODES:
          0   written
          1   the image could not be written (the error line says why)
          2   the command line or configuration is wrong; the error line names the key
        """

    static func dispatch(
        _ arguments: [String], program: String, summary: String, keys: [ConfigKey] = ConfigSchema.keys,
        usage: String? = nil, sections: [String] = [], run: (RunConfig) throws -> Int32
    ) -> Int32 {
        let invocation: Invocation
        do {
            invocation = try Invocation(arguments: arguments)
        } catch {
            Terminal.standardError("\(program): error: \(errorLine(error))\n")
            return 2
        }
        switch invocation.action {
        case .help:
            Terminal.standardOutput(helpText(program: program, summary: summary, keys: keys, usage: usage, sections: sections))
        case .version:
            Terminal.standardOutput("\(program) \(version)\n")
        case .printConfig:
            Terminal.standardOutput(invocation.config.settings.yaml)
        case .run:
            return guarded(program: program) { try run(invocation.config) }
        }
        return outputChecked(0)
    }
}
