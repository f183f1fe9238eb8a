import Foundation

/// Any error as one plain line: a Foundation file error as the POSIX error it wraps ("No
/// space left on device"), not Cocoa's "The operation could not be completed"; mgpr's
/// own errors as they describe themselves, never as Swift's bridged "ClusterError error 6".
public enum SystemError {
    public static func reason(_ error: any Error) -> String {
        let bridged = error as NSError
        guard bridged.domain == NSCocoaErrorDomain || bridged.domain == NSPOSIXErrorDomain else { return firstLine("\(error)") }
        if let underlying = bridged.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if bridged.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(bridged.code))) }
        if let code = posixCodes[bridged.code] { return String(cString: strerror(code)) }
        let text = firstLine(bridged.localizedDescription)
        let boilerplate = "The operation could not be completed. "
        return text.hasPrefix(boilerplate) && text.count > boilerplate.count ? String(text.dropFirst(boilerplate.count)) : text
    }

    /// Foundation's file errors that say no more than a POSIX error (and on Linux often
    /// carry none): said as that error.
    private static let posixCodes: [Int: Int32] = [
        CocoaError.fileNoSuchFile.rawValue: ENOENT, CocoaError.fileReadNoSuchFile.rawValue: ENOENT,
        CocoaError.fileReadNoPermission.rawValue: EACCES, CocoaError.fileWriteNoPermission.rawValue: EACCES,
        CocoaError.fileWriteOutOfSpace.rawValue: ENOSPC, CocoaError.fileWriteVolumeReadOnly.rawValue: EROFS,
        CocoaError.fileWriteFileExists.rawValue: EEXIST, CocoaError.fileReadTooLarge.rawValue: EFBIG,
    ]

    private static func firstLine(_ text: String) -> String { text.split(separator: "\n").first.map(String.init) ?? text }
}
