import Synchronization
import Testing
import Weights

@Suite("Weights held while plans are made")
struct WeightSupplyTests {
    /// Counts the loads a supply asks for.
    final class Loads: Sendable {
        let count = Atomic<Int>(0)
    }

    static let store = WeightStore(path: "test", tensors: [
        "conv.weight": HostTensor(shape: [2, 1, 1, 1], values: [0.5, -2]),
        "conv.bias": HostTensor(shape: [2], values: [1, 3]),
    ])

    @Test("the tensors go once every user has made its plans, and come back, not kept, when asked for again")
    func letGoAfterLastUser() throws {
        let loads = Loads()
        let supply = WeightSupply(Self.store, users: 2) {
            loads.count.add(1, ordering: .relaxed)
            return Self.store
        }
        #expect(try supply.store().tensors == Self.store.tensors)
        #expect(!supply.madePlans(), "one user of two has made its plans")
        #expect(supply.isHeld)
        #expect(supply.madePlans(), "the second user's plans let the tensors go")
        #expect(!supply.isHeld)
        #expect(loads.count.load(ordering: .relaxed) == 0)

        #expect(try supply.store().tensors == Self.store.tensors)
        #expect(loads.count.load(ordering: .relaxed) == 1)
        #expect(!supply.isHeld, "weights loaded again for one plan are not kept")
        #expect(!supply.madePlans(), "a user past the count changes nothing")
    }

    @Test("weights with no way to load them again are held for good")
    func heldWithoutReload() throws {
        let supply = WeightSupply(Self.store)
        #expect(!supply.madePlans())
        #expect(supply.isHeld)
        #expect(try supply.store().tensors == Self.store.tensors)
    }

    @Test("a load again that fails throws its own error")
    func reloadFailure() throws {
        let supply = WeightSupply(Self.store, users: 1) { throw WeightsError.changedDuringRun(path: "test") }
        supply.madePlans()
        #expect(throws: WeightsError.changedDuringRun(path: "test")) { try supply.store() }
    }
}
