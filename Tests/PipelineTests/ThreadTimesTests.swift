import Foundation
import Testing
@testable import Pipeline

@Suite("Thread CPU times")
struct ThreadTimesTests {
    @Test("a thread's stat line gives its name and user + system ticks, whatever the name holds")
    func parse() {
        let line = "4242 (mgpr-device-1-0) R 1 4242 4242 0 -1 4194304 1234 0 0 0 350 25 0 0 20 0 9 0 100 0 0"
        #expect(ThreadTimes.parse(stat: line)! == ("mgpr-device-1-0", 375))
        let odd = "7 (a) b (c)) S 1 7 7 0 -1 0 0 0 0 0 11 2 0 0 20 0 1 0 5 0 0"
        #expect(ThreadTimes.parse(stat: odd)! == ("a) b (c)", 13))
        #expect(ThreadTimes.parse(stat: "7 (short) S 1") == nil)
        #expect(ThreadTimes.device(named: "mgpr-device-12-1") == 12)
        #expect(ThreadTimes.device(named: "mgpr-reader-0") == nil)
    }

    @Test("threads that did a device's work are those with a tenth of the busiest one's time")
    func threadsUsed() {
        var usage = ThreadTimes.Usage(cpuSeconds: 10)
        usage.deviceThreads = [0: [4.0, 3.9, 0.2], 1: [5.0]]
        #expect(usage.threadsUsed(device: 0) == 2)
        #expect(usage.threadsUsed(device: 1) == 1)
        #expect(usage.threadsUsed(device: 2) == 0)
        #expect(abs(usage.computeSeconds(device: 0) - 8.1) < 1e-9)
    }

    @Test("a busy named thread's CPU time is found, and its OpenMP-style children inherit its name")
    func measuresNamedThreads() {
        let times = ThreadTimes()
        let worker = JoinableThread(name: "mgpr-device-3-0") {
            // Started as OpenMP starts its workers: with no name of its own.
            let childDone = DispatchSemaphore(value: 0)
            Thread {
                busy(cpuSeconds: 0.3)
                times.sample()
                childDone.signal()
            }.start()
            busy(cpuSeconds: 0.3)
            childDone.wait()
            times.sample()
        }
        worker.join()
        let usage = times.usage()
        #expect(usage.threadsUsed(device: 3) == 2, "\(usage.deviceThreads)")
        #expect(usage.computeSeconds(device: 3) >= 0.55)
        #expect(usage.cpuSeconds >= usage.computeSeconds(device: 3) - 0.02)
    }
}

/// Spins until the calling thread has used `cpuSeconds` of CPU time, however loaded the
/// machine is.
private func busy(cpuSeconds: Double) {
    func used() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
    let end = used() + cpuSeconds
    var x = 0.0
    while used() < end { for i in 0..<10_000 { x += Double(i).squareRoot() } }
    if x < 0 { print(x) }
}
