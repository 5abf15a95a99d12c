"""The PeerTube stand-ins' shared user table and rules (see peertube-reset-password)."""

SERVICE = "peertube"


def initial():
    return {"users": {}, "nextId": 1}


def load_by_username(db, username):
    # UserModel.loadByUsername (server/core/models/user/user.ts): `where: { username }`,
    # an exact match ("Root" is not root; older versions used iLike).
    return db["users"].get(username) if isinstance(username, str) else None


def password_valid(password, min_length=6):
    # isUserPasswordValid (server/core/helpers/custom-validators/users.ts) with
    # CONSTRAINTS_FIELDS.USERS.PASSWORD (server/core/initializers/constants.ts): at least
    # user.password_constraints.min_length characters (assumed 6, the older fixed minimum),
    # at most 50 characters and 72 bytes (bcrypt's limit).
    return min_length <= len(password) <= 50 and len(password.encode()) <= 72
