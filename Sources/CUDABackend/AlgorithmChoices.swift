import CUDA
import Foundation
import Platform
import Synchronization

/// The convolution algorithms cuDNN measured fastest, kept on disk per GPU model and
/// cuDNN version, so that a shape is searched once per machine: a Faster R-CNN plan
/// runs about a hundred searches, seconds that a short run, and every lane and rank
/// after the first, would otherwise pay again.
///
/// One text file per (GPU name, architecture, cuDNN version) in the kernel cache's
/// folder, a line per convolution: its signature (types, math, shapes, geometry), the
/// algorithm and its workspace bytes. Saving merges with what another process saved
/// since (the file is read again, then written aside and renamed); a line that does
/// not parse, or a file that cannot be read or written, only costs a search.
package final class AlgorithmChoices: @unchecked Sendable {
    package struct Choice: Equatable, Sendable {
        package var algorithm: Int32
        package var memory: Int
        package init(algorithm: Int32, memory: Int) { (self.algorithm, self.memory) = (algorithm, memory) }
    }

    /// Where the choices live; nil: kept in memory only.
    package let file: String?
    private let state: Mutex<(known: [String: Choice], added: [String: Choice])>

    package init(file: String?) {
        self.file = file
        state = Mutex((file.map(Self.read) ?? [:], [:]))
    }

    /// The file for one GPU model and cuDNN version in `cache`'s folder.
    package convenience init(cache: KernelCache, deviceName: String, architecture: Int, cudnnVersion: String) {
        self.init(file: cache.folder.map { "\($0)/" + Self.fileName(deviceName: deviceName, architecture: architecture, cudnnVersion: cudnnVersion) })
    }

    /// "cudnn-9.10.2-NVIDIA_H200-sm_90.algorithms": the name with anything but letters,
    /// digits, dots and dashes as underscores.
    package static func fileName(deviceName: String, architecture: Int, cudnnVersion: String) -> String {
        let safe = String(deviceName.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") ? $0 : "_" })
        return "cudnn-\(cudnnVersion)-\(safe)-sm_\(architecture).algorithms"
    }

    package func choice(for signature: String) -> Choice? { state.withLock { $0.known[signature] } }

    package func record(_ choice: Choice, for signature: String) {
        state.withLock {
            $0.known[signature] = choice
            $0.added[signature] = choice
        }
    }

    /// Writes what was recorded since the last save, over what the file holds now.
    package func save() {
        guard let file else { return }
        state.withLock { s in
            guard !s.added.isEmpty else { return }
            let merged = Self.read(file).merging(s.added) { _, ours in ours }
            let text = merged.keys.sorted().map { "\($0)\t\(merged[$0]!.algorithm)\t\(merged[$0]!.memory)\n" }.joined()
            try? FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if (try? RunFile.replace(file, with: Data(text.utf8))) != nil { s.added = [:] }
        }
    }

    /// The file's choices; lines that do not parse are left out.
    static func read(_ file: String) -> [String: Choice] {
        guard let data = try? RunFile.contents(file) else { return [:] }
        var choices: [String: Choice] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[0].isEmpty, let algorithm = Int32(fields[1]), let memory = Int(fields[2]),
                  algorithm >= 0, memory >= 0 else { continue }
            choices[String(fields[0])] = Choice(algorithm: algorithm, memory: memory)
        }
        return choices
    }
}
