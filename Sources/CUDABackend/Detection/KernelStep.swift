/// One kernel launch of a sequence that the detector's lowering and the kernel checks
/// both run (``NMSLaunches``, ``SelectLaunches``): `count` elements for a grid-stride
/// kernel, or `blocks` of `threads`.
package struct KernelStep {
    package let name: String
    package let count: Int?
    package let blocks: Int?
    package let threads: Int
    package let arguments: [KernelLaunch.Argument]

    init(_ name: String, count: Int? = nil, blocks: Int? = nil, threads: Int, _ arguments: [KernelLaunch.Argument]) {
        (self.name, self.count, self.blocks, self.threads, self.arguments) = (name, count, blocks, threads, arguments)
    }
}
