internal import CGDAL
import Foundation

/// Turns what a user writes for a CRS ("EPSG:32617", a PROJ string, WKT) into WKT.
public enum SpatialReference {
    public static func wkt(fromUserInput text: String) -> String? {
        GDAL.ensureInitialized()
        guard let srs = OSRNewSpatialReference(nil) else { return nil }
        defer { OSRDestroySpatialReference(srs) }
        guard OSRSetFromUserInput(srs, text) == OGRERR_NONE else {
            _ = GDAL.takeLastError()
            return nil
        }
        var out: UnsafeMutablePointer<CChar>?
        guard OSRExportToWkt(srs, &out) == OGRERR_NONE, let out else { return nil }
        defer { VSIFree(out) }
        return String(cString: out)
    }
}
