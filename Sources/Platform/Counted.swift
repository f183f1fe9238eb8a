/// A count with its noun in the right number: "1 tile", "8 tiles", "0 tiles".
public func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
}
