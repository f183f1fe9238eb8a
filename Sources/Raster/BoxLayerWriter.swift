internal import CGDAL

/// Box polygons with label, score and tile fields (the label a class name, with its
/// index as label_id, when the model names its classes), written through OGR: a GeoPackage
/// layer in the raster's CRS, or GeoJSON as RFC 7946 has it (WGS84 longitude and
/// latitude, no `crs` member). Without a CRS both keep pixel coordinates.
public final class BoxLayerWriter {
    public enum Format: String, Sendable {
        case geopackage = "GPKG", geojson = "GeoJSON"

        /// The format for a file name's extension, if OGR output supports it here.
        public init?(path: String) {
            let lower = path.lowercased()
            if lower.hasSuffix(".gpkg") { self = .geopackage } else if lower.hasSuffix(".geojson") || lower.hasSuffix(".json") {
                self = .geojson
            } else { return nil }
        }
    }

    public let path: String
    private var dataset: GDALDatasetH?
    private let layer: OGRLayerH
    private let definition: OGRFeatureDefnH
    private let namedLabels: Bool
    /// Map coordinates to WGS84 for GeoJSON; nil when they are written as given.
    private var toWGS84: OGRCoordinateTransformationH?

    public init(path: String, format: Format, crsWKT: String?, namedLabels: Bool = false, layerName: String = "detections") throws(RasterError) {
        GDAL.ensureInitialized()
        self.path = path
        guard let driver = GDALGetDriverByName(format.rawValue) else {
            throw .createFailed(path: path, reason: "GDAL has no \(format.rawValue) driver")
        }
        GDALDeleteDataset(driver, path)  // replace an earlier run's file
        _ = GDAL.takeLastError()
        guard let dataset = GDALCreate(driver, path, 0, 0, 0, GDT_Unknown, nil) else {
            throw .createFailed(path: path, reason: GDAL.takeLastError() ?? "GDALCreate failed")
        }
        var srs: OGRSpatialReferenceH?
        if let crsWKT {
            srs = OSRNewSpatialReference(crsWKT)
            OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER)
        } else if format == .geopackage {
            // Coordinates in the raster's own units (or pixels): GeoPackage's "Undefined
            // Cartesian SRS" (srs_id -1), not the "Undefined geographic SRS" GDAL picks
            // for no SRS at all, which would call them degrees.
            srs = OSRNewSpatialReference(nil)
            OSRSetLocalCS(srs, "Undefined cartesian SRS")
        }
        defer { if let srs { OSRRelease(srs) } }
        let options = GDALOptions()
        if format == .geojson, let source = srs {
            // RFC 7946: longitude, latitude on WGS84, whatever the raster's CRS.
            let wgs84 = OSRNewSpatialReference(nil)
            OSRSetWellKnownGeogCS(wgs84, "WGS84")
            OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER)
            toWGS84 = OCTNewCoordinateTransformation(source, wgs84)
            OSRRelease(srs)
            srs = wgs84
            options.set("RFC7946", "YES")
            guard toWGS84 != nil else {
                GDALClose(dataset)
                throw .createFailed(path: path, reason: "cannot transform the raster's CRS to WGS84: \(GDAL.takeLastError() ?? "")")
            }
        }
        guard let layer = GDALDatasetCreateLayer(dataset, layerName, srs, wkbPolygon, options.constList) else {
            let reason = GDAL.takeLastError() ?? "cannot create the layer"
            GDALClose(dataset)
            throw .createFailed(path: path, reason: reason)
        }
        let fields = namedLabels
            ? [("label", OFTString), ("score", OFTReal), ("tile", OFTInteger), ("label_id", OFTInteger)]
            : [("label", OFTInteger), ("score", OFTReal), ("tile", OFTInteger)]
        for (name, type) in fields {
            let field = OGR_Fld_Create(name, type)
            defer { OGR_Fld_Destroy(field) }
            guard OGR_L_CreateField(layer, field, 1) == OGRERR_NONE else {
                GDALClose(dataset)
                throw .createFailed(path: path, reason: "cannot create field \(name)")
            }
        }
        self.dataset = dataset
        self.layer = layer
        self.namedLabels = namedLabels
        definition = OGR_L_GetLayerDefn(layer)
        _ = GDALDatasetStartTransaction(dataset, 0)  // one transaction: GeoPackage writes fast
        _ = GDAL.takeLastError()
    }

    /// Adds one box as a polygon through its four corners (map coordinates, in order).
    public func add(corners: [(x: Double, y: Double)], label: Int, name: String? = nil, score: Double, tile: Int) throws(RasterError) {
        let feature = OGR_F_Create(definition)
        defer { OGR_F_Destroy(feature) }
        if namedLabels {
            OGR_F_SetFieldString(feature, 0, name ?? String(label))
            OGR_F_SetFieldInteger(feature, 3, Int32(label))
        } else {
            OGR_F_SetFieldInteger(feature, 0, Int32(label))
        }
        OGR_F_SetFieldDouble(feature, 1, score)
        OGR_F_SetFieldInteger(feature, 2, Int32(tile))
        let ring = OGR_G_CreateGeometry(wkbLinearRing)
        for c in corners + [corners[0]] { OGR_G_AddPoint_2D(ring, c.x, c.y) }
        if let toWGS84, OGR_G_Transform(ring, toWGS84) != OGRERR_NONE {
            OGR_G_DestroyGeometry(ring)
            throw .writeFailed(path: path, reason: "cannot transform a box to WGS84: \(GDAL.takeLastError() ?? "")")
        }
        let polygon = OGR_G_CreateGeometry(wkbPolygon)
        OGR_G_AddGeometryDirectly(polygon, ring)
        OGR_F_SetGeometryDirectly(feature, polygon)
        guard OGR_L_CreateFeature(layer, feature) == OGRERR_NONE else {
            throw .writeFailed(path: path, reason: GDAL.takeLastError() ?? "cannot write a feature")
        }
    }

    public func close() throws(RasterError) {
        guard let dataset else { return }
        self.dataset = nil
        _ = GDALDatasetCommitTransaction(dataset)
        let error = GDAL.takeLastError()
        GDALClose(dataset)
        if let message = error ?? GDAL.takeLastError() { throw .writeFailed(path: path, reason: message) }
    }

    deinit {
        if let dataset { GDALClose(dataset) }
        if let toWGS84 { OCTDestroyCoordinateTransformation(toWGS84) }
    }
}
