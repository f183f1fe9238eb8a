internal import CGDAL
import Foundation

/// Rasters read over HTTP or from object stores through GDAL's virtual file systems: a
/// Cloud-Optimised GeoTIFF at a URL reads like a local file, block by block, with
/// ranged requests. `https://...` and `http://...` go through `/vsicurl/`, `s3://` through
/// `/vsis3/` (credentials as the AWS CLI finds them), `gs://` through `/vsigs/`; a
/// path that already names a `/vsi...` system is used as given.
public enum RemoteRaster {
    /// The path GDAL opens for `path`.
    public static func gdalPath(_ path: String) -> String {
        for (scheme, system) in [("https://", "/vsicurl/"), ("http://", "/vsicurl/"), ("s3://", "/vsis3/"), ("gs://", "/vsigs/")]
        where path.lowercased().hasPrefix(scheme) {
            return system + (system == "/vsicurl/" ? path : String(path.dropFirst(scheme.count)))
        }
        return path
    }

    /// Whether `path` is read through one of GDAL's network file systems.
    public static func isRemote(_ path: String) -> Bool {
        let gdal = gdalPath(path)
        return ["/vsicurl", "/vsis3", "/vsigs", "/vsiaz", "/vsiadls", "/vsioss", "/vsiswift", "/vsiwebhdfs"]
            .contains { gdal.hasPrefix($0) }
    }

    /// GDAL's settings for ranged reads of one large file by many readers, each applied
    /// only where the environment does not set it already (a user's choice wins):
    /// - no directory listing on open (a COG is one file; listing a bucket is slow);
    /// - consecutive block ranges merged into one request, and HTTP/2 multiplexing;
    /// - a per-handle read cache (VSI_CACHE) and a larger shared block cache for curl;
    /// - retries on the transient errors object stores give under load;
    /// - a server that stalls (accepts and never answers, sends headers and no body, stops
    ///   mid-body) fails the read after 30 s below 1 byte/s (each retry again), and one that never
    ///   accepts after 30 s, instead of holding a reader, and the run's stop, forever.
    public static let settings: [(key: String, value: String)] = [
        ("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR"),
        ("GDAL_HTTP_MERGE_CONSECUTIVE_RANGES", "YES"),
        ("GDAL_HTTP_MULTIPLEX", "YES"),
        ("GDAL_HTTP_VERSION", "2"),
        ("VSI_CACHE", "TRUE"),
        ("VSI_CACHE_SIZE", "67108864"),
        ("CPL_VSIL_CURL_CACHE_SIZE", "268435456"),
        ("GDAL_HTTP_MAX_RETRY", "3"),
        ("GDAL_HTTP_RETRY_DELAY", "1"),
        ("GDAL_HTTP_CONNECTTIMEOUT", "30"),
        ("GDAL_HTTP_LOW_SPEED_TIME", "30"),
        ("GDAL_HTTP_LOW_SPEED_LIMIT", "1"),
    ]

    /// Why an http(s) URL cannot be read, as its server says it ("HTTP 404"), when
    /// GDAL's own message does not (its /vsicurl/ reads a 404 as a file that is not
    /// there, without the status): one request for the first byte.
    static func problem(with url: String) -> String? {
        guard url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://") else { return nil }
        let options = GDALOptions([("HEADERS", "Range: bytes=0-0"), ("TIMEOUT", "30"), ("MAX_RETRY", "1")])
        guard let result = CPLHTTPFetch(url, options.constList) else { return nil }
        defer { CPLHTTPDestroyResult(result) }
        _ = GDAL.takeLastError()
        let error = result.pointee.pszErrBuf.map { String(cString: $0) }
        if let error, let code = error.split(separator: ":").last?.trimmingCharacters(in: .whitespaces), Int(code) != nil {
            return "the server answered HTTP \(code)\(code == "404" ? " (not found)" : code == "403" ? " (forbidden: check credentials)" : "")"
        }
        return error.map { "the request failed: \($0)" }
    }

    /// Applies ``settings`` once per process.
    static func configure() { _ = configured }

    private static let configured: Bool = {
        for (key, value) in settings where ProcessInfo.processInfo.environment[key] == nil {
            CPLSetConfigOption(key, value)
        }
        return true
    }()
}
