/// `share`: how the ranks of a job divide the tiles.
public enum ShareMode: String, Sendable, Codable {
    /// Each rank a fixed contiguous block, fixed when the job starts.
    case `static`
    /// Ranks claim chunks from the run directory as they go, so none waits on a slower one.
    case claim
}
