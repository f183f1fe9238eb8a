import Synchronization

/// A model's weights, as its plans are compiled from them.
///
/// Every compiled plan keeps its own packed copy of the weights, so once a run's plans
/// are made the loaded tensors are a second copy held for nothing: 130 MB for RetinaNet
/// in float32, as much as its activations. A supply that can load them again is handed
/// to the run's `users` models and lets the tensors go once each has made its plans;
/// a plan made later (for a short last batch, say) loads them again for the moment it
/// takes to compile.
public final class WeightSupply: Sendable {
    private let state: Mutex<(store: WeightStore?, pending: Int)>
    private let reload: (@Sendable () throws -> WeightStore)?

    /// Weights held as long as the supply is.
    public convenience init(_ store: WeightStore) { self.init(store, users: 0, reload: nil) }

    /// Weights held until `users` models have called ``madePlans()``, then loaded again by
    /// `reload` whenever needed.
    public init(_ store: WeightStore, users: Int, reload: (@Sendable () throws -> WeightStore)?) {
        state = Mutex((store, reload == nil ? 0 : users))
        self.reload = reload
    }

    /// Whether the tensors are held now.
    public var isHeld: Bool { state.withLock { $0.store != nil } }

    /// The weights: those held, or else loaded again (and not kept).
    public func store() throws -> WeightStore {
        if let store = state.withLock({ $0.store }) { return store }
        guard let reload else { preconditionFailure("weights without a way to load them again are never let go") }
        return try reload()
    }

    /// Says a user's plans are made; the last one's lets the tensors go. Returns whether
    /// this call let them go (the caller may then hand the freed pages back to the system).
    @discardableResult
    public func madePlans() -> Bool {
        state.withLock { state in
            guard state.pending > 0 else { return false }
            state.pending -= 1
            guard state.pending == 0 else { return false }
            state.store = nil
            return true
        }
    }
}
