import Foundation

/// The one-line reason behind a Foundation file error: the POSIX error it wraps ("No
/// space left on device"), not Cocoa's "The operation could not be completed".
public enum SystemError {
    public static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))) }
        return error.localizedDescription.split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}
