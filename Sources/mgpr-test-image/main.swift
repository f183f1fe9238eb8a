import Foundation
import MGPRCommands

exit(Main.testImage(Array(CommandLine.arguments.dropFirst())))
