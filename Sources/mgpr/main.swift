import Foundation
import MGPRCommands

// Called by the name mgpr-test-image it is that command: the wheel ships one binary for
// both (scripts/wheel.sh), where Swift's runtime, linked into each, would double its size.
let arguments = Array(CommandLine.arguments.dropFirst())
let name = (CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }) ?? "mgpr"
Main.exit(name == "mgpr-test-image" ? Main.testImage(arguments) : Main.mgpr(arguments))
