import Foundation

/// A FIFO that blocks takers while it is empty. `close()` wakes every waiter: takers
/// then drain what is left and get nil. Bounds come from the batch pool, not from here.
final class BlockingQueue<Element>: @unchecked Sendable {
    // NSCondition guards `items` and `closed`; every access below holds it.
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false

    func push(_ item: Element) {
        condition.lock()
        defer { condition.unlock() }
        items.append(item)
        condition.signal()
    }

    /// The next item, waiting for one; nil once closed and empty.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {  // compact now and then, not on every pop
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// The next item if one is waiting, without blocking.
    func tryPop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        return item
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
