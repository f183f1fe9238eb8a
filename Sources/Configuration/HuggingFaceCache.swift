import Foundation

/// A Hugging Face repository given as `weights` (`weights=weecology/deepforest-tree`),
/// found where `hf download` (or `huggingface-cli download`) puts it: mgpr reads the
/// local cache and never downloads at run time, since compute nodes seldom reach the
/// internet and a run must not depend on a server.
public enum HuggingFaceCache {
    /// The cache folders, where huggingface_hub itself looks: HF_HUB_CACHE, else
    /// HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
    public static func root(_ env: [String: String]) -> String {
        if let hub = env["HF_HUB_CACHE"], !hub.isEmpty { return hub }
        if let home = env["HF_HOME"], !home.isEmpty { return (home as NSString).appendingPathComponent("hub") }
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return (cache as NSString).appendingPathComponent("huggingface/hub")
    }

    /// Whether `value` names a repository (OWNER/NAME) rather than a file: one slash,
    /// no file or folder there, and no weights file's extension.
    public static func isRepositoryID(_ value: String) -> Bool {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.first != "." && $0.allSatisfy(allowed.contains) }) else {
            return false
        }
        let fileKinds = [".pth", ".pt", ".ckpt", ".safetensors", ".bin"]
        return !fileKinds.contains { value.lowercased().hasSuffix($0) } && !FileManager.default.fileExists(atPath: value)
    }

    /// The folder of `repository`'s files at the revision `main` points to (else its
    /// newest snapshot), or nil when the cache does not hold it.
    public static func snapshot(of repository: String, env: [String: String]) -> String? {
        let folder = (root(env) as NSString).appendingPathComponent("models--" + repository.replacingOccurrences(of: "/", with: "--"))
        let snapshots = (folder as NSString).appendingPathComponent("snapshots")
        let files = FileManager.default
        if let main = try? String(contentsOfFile: (folder as NSString).appendingPathComponent("refs/main"), encoding: .utf8) {
            let path = (snapshots as NSString).appendingPathComponent(main.trimmingCharacters(in: .whitespacesAndNewlines))
            if files.fileExists(atPath: path) { return path }
        }
        let revisions = ((try? files.contentsOfDirectory(atPath: snapshots)) ?? []).map { (snapshots as NSString).appendingPathComponent($0) }
        return revisions.max { modified($0) < modified($1) }
    }

    private static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }

    /// `weights` as a path: itself, or a cached repository's snapshot folder.
    public static func resolve(weights: String, env: [String: String]) throws(ConfigError) -> String {
        guard isRepositoryID(weights) else { return weights }
        if let snapshot = snapshot(of: weights, env: env) { return snapshot }
        throw .invalidValue(
            key: "weights", value: weights,
            reason: "no such file, and the Hugging Face repository \(weights) is not in the local cache (\(root(env))); "
                + "download it first: hf download \(weights) (or: huggingface-cli download \(weights)); mgpr never downloads at run time")
    }
}
