/// Constant field offsets for the messages the hot path reads (from `itch50.md`; checked against `ITCHSchema`).
/// Kept as enum statics so they fold into the decoder's loads.
public enum ITCHOffsets {
    public static let type = 0
    public static let stockLocate = 1
    public static let trackingNumber = 3
    public static let timestamp = 5
    public static let body = 11

    public enum SystemEvent { public static let eventCode = 11 }
    public enum StockDirectory { public static let stock = 11 }
    public enum TradingAction { public static let stock = 11, tradingState = 19, reasonCode = 21 }
    public enum RegSHO { public static let action = 19 }
    public enum OperationalHalt { public static let action = 20 }
    public enum MWCBStatus { public static let breachedLevel = 11 }
    public enum IPOQuoting { public static let qualifier = 23 }
    public enum AddOrder { public static let orderRef = 11, side = 19, shares = 20, stock = 24, price = 32 }
    public enum OrderExecuted { public static let orderRef = 11, shares = 19, matchNumber = 23 }
    public enum OrderExecutedWithPrice { public static let printable = 31, price = 32 }
    public enum OrderCancel { public static let orderRef = 11, shares = 19 }
    public enum OrderDelete { public static let orderRef = 11 }
    public enum OrderReplace { public static let originalRef = 11, newRef = 19, shares = 27, price = 31 }
    public enum Trade { public static let side = 19, shares = 20, stock = 24, price = 32, matchNumber = 36 }
    public enum CrossTrade { public static let shares = 11, stock = 19, price = 27, matchNumber = 31, crossType = 39 }
    public enum BrokenTrade { public static let matchNumber = 11 }
}
