internal import CGDAL
import Foundation

/// The one place GDAL is set up and its status is checked.
///
/// GDAL reports errors through a thread-local "last error"; we silence its default
/// handler (which prints to stderr) and turn that last error into a typed error
/// right after each call, so a user sees one clear line instead of GDAL's noise.
enum GDAL {
    /// Registers the drivers and installs the quiet handler, once per process.
    /// A global `let` is initialised exactly once, thread-safely.
    static func ensureInitialized() { _ = initialized }

    /// In the bundle scripts/bundle.sh makes and the wheel scripts/wheel.sh makes (bin/mgpr
    /// beside lib/ and share/): GDAL's data from share/gdal, PROJ's from share/proj, and no
    /// plugins from the machine's own GDAL, whose other version would load a second libgdal
    /// into the process; the environment still wins. The curl inside was built elsewhere and
    /// looks for CA certificates where that system keeps them, so HTTPS (/vsicurl/, /vsis3/)
    /// is given this system's bundle.
    private static func useRelocatableInstall() {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return }
        let prefix = URL(fileURLWithPath: executable).deletingLastPathComponent().deletingLastPathComponent().path
        let files = FileManager.default
        guard files.fileExists(atPath: prefix + "/share/gdal/gdalvrt.xsd") else { return }
        if getenv("GDAL_DATA") == nil { CPLSetConfigOption("GDAL_DATA", prefix + "/share/gdal") }
        if getenv("GDAL_DRIVER_PATH") == nil { CPLSetConfigOption("GDAL_DRIVER_PATH", "disable") }
        if getenv("PROJ_DATA") == nil, getenv("PROJ_LIB") == nil, files.fileExists(atPath: prefix + "/share/proj/proj.db") {
            (prefix + "/share/proj").withCString { path in
                var paths: [UnsafePointer<CChar>?] = [path, nil]
                paths.withUnsafeMutableBufferPointer { OSRSetPROJSearchPaths($0.baseAddress) }
            }
        }
        if getenv("CURL_CA_BUNDLE") == nil, getenv("GDAL_CURL_CA_BUNDLE") == nil, getenv("SSL_CERT_FILE") == nil,
            let bundle = caBundles.first(where: files.fileExists(atPath:))
        {
            CPLSetConfigOption("CURL_CA_BUNDLE", bundle)
        }
    }

    /// Where Linux distributions keep the CA certificates in one file: Debian and Ubuntu,
    /// RHEL and its clones, SUSE, then RHEL's older name.
    static let caBundles = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/certs/ca-bundle.crt",
    ]

    private static let initialized: Bool = {
        useRelocatableInstall()
        GDALAllRegister()
        CPLSetErrorHandler(CPLQuietErrorHandler)
        return true
    }()

    /// GDAL's last error message on this thread, then reset; nil when there was none.
    static func takeLastError() -> String? {
        defer { CPLErrorReset() }
        guard CPLGetLastErrorType() != CE_None, let message = CPLGetLastErrorMsg() else { return nil }
        let text = String(cString: message)
        return text.isEmpty ? nil : text
    }

    /// Runs a GDAL call that returns a CPLErr and throws `failure(message)` unless it succeeded.
    static func check(_ status: CPLErr, _ failure: (String) -> RasterError) throws(RasterError) {
        guard status == CE_None else { throw failure(takeLastError() ?? "unknown GDAL error") }
    }

    /// GDAL's version, e.g. "3.6.2".
    static var version: String {
        ensureInitialized()
        return String(cString: GDALVersionInfo("RELEASE_NAME"))
    }
}

/// An owned GDAL string list (char **), freed when it goes away.
final class GDALOptions {
    private(set) var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

    init(_ pairs: [(String, String)] = []) {
        for (key, value) in pairs { set(key, value) }
    }

    func set(_ key: String, _ value: String) { list = CSLSetNameValue(list, key, value) }

    /// GDAL's entry points take `CSLConstList`; a char ** is the same pointer.
    var constList: CSLConstList? { list.map { CSLConstList(OpaquePointer($0)) } }

    deinit { CSLDestroy(list) }
}

/// What this process's GDAL is, for `mgpr doctor`.
public enum GDALLibrary {
    public static var version: String { GDAL.version }

    /// Whether a raster or vector driver of this short name is registered.
    public static func hasDriver(_ name: String) -> Bool {
        GDAL.ensureInitialized()
        return GDALGetDriverByName(name) != nil
    }

    public static var driverCount: Int {
        GDAL.ensureInitialized()
        return Int(GDALGetDriverCount())
    }
}

extension GDALLibrary {
    /// Caps GDAL's process-wide block cache. Writing a large image block by block keeps
    /// at most this much in dirty blocks, so memory stays flat whatever the image size.
    public static func setCacheMax(bytes: Int) {
        GDAL.ensureInitialized()
        GDALSetCacheMax64(GIntBig(bytes))
    }

    /// GDAL's process-wide block cache limit now.
    public static var cacheMaxBytes: Int {
        GDAL.ensureInitialized()
        return Int(GDALGetCacheMax64())
    }

    /// The block cache a run keeps unless `GDAL_CACHEMAX` says otherwise: GDAL's own
    /// default is 5% of the machine's memory (25 GB on a 512 GB node), which a run that
    /// reads each window once and writes a raster block by block would fill for nothing.
    public static let runCacheBytes = 256 << 20

    /// Caps the block cache at ``runCacheBytes`` unless the user set `GDAL_CACHEMAX`.
    public static func capCacheForRun() {
        guard getenv("GDAL_CACHEMAX") == nil else { return }
        setCacheMax(bytes: runCacheBytes)
    }
}
