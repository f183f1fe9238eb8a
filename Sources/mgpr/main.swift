import Foundation
import MGPRCommands

exit(Main.mgpr(Array(CommandLine.arguments.dropFirst())))
