# The units of the local demo's machines (examples/local), for the extraUnits of
# resources/systemd-test-system.nix. Built without nixpkgs: the programs are Debian's on
# the machine (a testhosts systemd machine shares the host's /usr; scripts/setup installs
# ceph-mon, ceph-osd, radosgw, ceph-common, slapd, ldap-utils, openssl, curl, python3).
#
#   let units = import ./demo-units.nix { }; in
#   units.rgw { address = "10.213.0.2"; accessKeyFile = ...; secretKeyFile = ...; }
#
# rgw       a single-node Ceph cluster (monitor, memstore OSD, radosgw on ADDRESS:7480) and
#           its admin user `fedi-admin`, whose keys are the files fedi delivered
# slapd     an OpenLDAP directory on ldap:// and ldaps://ADDRESS (its own CA, made on the
#           machine at the first start), admin cn=admin,SUFFIX with the delivered password
# s3Check   uploads an object with the machine's delivered bucket key and reads it back
# ldapCheck binds to the directory as a service's bind account (delivered password)
# adminTools puts the stand-ins of the services' admin commands (test/standins) on root's
#           PATH, where NixOS has the real ones
# peertube  what PeerTube's first start does with PT_INITIAL_ROOT_PASSWORD (its stand-in)
{ system ? builtins.currentSystem or "x86_64-linux" }:
let
  build = name: script: env: derivation ({
    name = "demo-${name}";
    inherit system;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  } // env);
  program = name: text: build name ''
    printf '%s' "$text" > $out && chmod 0555 $out
  '' { inherit text; };

  # The stand-ins, self-contained in the store.
  standins = build "standins" ''
    /usr/bin/python3 ${../test/standins}/standins.py install $out/bin >/dev/null
  '' { };

  # A tiny S3 client (SigV4, python3's standard library): PUT then GET one object.
  s3Client = program "s3-roundtrip" ''
    #!/usr/bin/python3
    """s3-roundtrip KEY TEXT: stores TEXT as KEY in $S3_BUCKET and reads it back."""
    import datetime, hashlib, hmac, os, sys, time, urllib.request, urllib.parse

    def sign(method, url, body):
        region, service = os.environ["S3_REGION"], "s3"
        u = urllib.parse.urlsplit(url)
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": u.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        names = ";".join(sorted(headers))
        canonical = "\n".join([method, urllib.parse.quote(u.path), "",
                               "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                               names, payload])
        scope = f"{day}/{region}/{service}/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}")
        return headers

    def call(method, url, body=b""):
        req = urllib.request.Request(url, data=body if method == "PUT" else None,
                                     method=method, headers=sign(method, url, body))
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.read()

    key, text = sys.argv[1], sys.argv[2].encode()
    url = f"{os.environ['S3_ENDPOINT'].rstrip('/')}/{os.environ['S3_BUCKET']}/{key}"
    for attempt in range(10):
        try:
            call("PUT", url, text)
            back = call("GET", url)
            break
        except OSError as e:  # the storage may still be starting
            print(f"{url}: {e}", file=sys.stderr, flush=True)
            if attempt == 9:
                sys.exit(1)
            time.sleep(2)
    if back != text:
        sys.exit(f"{url}: read back {back!r}, wrote {text!r}")
    print(f"stored and read back {url} ({len(text)} bytes) with key "
          f"{os.environ['AWS_ACCESS_KEY_ID']}")
  '';

  rgwDir = "/var/lib/ceph-demo";

  # The monitor's first start: the cluster's keys, configuration and monitor store.
  cephSetup = address: program "ceph-setup" ''
    #!/bin/bash
    set -euo pipefail
    d=${rgwDir}
    mkdir -p $d/mon $d/osd $d/keyring $d/run $d/log $d/rgw
    [ -s $d/fsid ] || cat /proc/sys/kernel/random/uuid > $d/fsid
    cat > $d/ceph.conf <<EOF
    [global]
    fsid = $(cat $d/fsid)
    mon host = v2:${address}:3300
    mon initial members = a
    public addr = ${address}
    ms bind msgr1 = false
    keyring = $d/keyring/\$name.keyring
    run dir = $d/run
    admin socket = $d/run/\$name.asok
    log file = $d/log/\$name.log
    osd pool default size = 1
    osd pool default min size = 1
    osd pool default pg num = 8
    osd pool default pgp num = 8
    osd crush chooseleaf type = 0
    mon allow pool size one = true
    mon warn on pool no redundancy = false
    paxos propose interval = 0.01
    paxos min wait = 0.01
    [mon]
    mon data = $d/mon/\$id
    [osd]
    osd data = $d/osd/\$id
    # In memory, saved to osd data when the OSD stops (a clean stop: no fast shutdown)
    # and loaded when it starts: small and quick to start. A killed OSD loses its objects.
    osd objectstore = memstore
    osd fast shutdown = false
    memstore device bytes = 536870912
    [client]
    rgw frontends = beast endpoint=${address}:7480
    rgw data = $d/rgw
    rgw enable lc threads = false
    rgw init timeout = 120
    EOF
    [ ! -e $d/mon/a/done ] || exit 0
    rm -rf $d/mon/a $d/keyring/*
    umask 077
    tool() { ceph-authtool -c $d/ceph.conf "$@" >/dev/null; }
    tool --create-keyring $d/keyring/mon..keyring --gen-key -n mon. --cap mon 'allow *'
    tool --create-keyring $d/keyring/client.admin.keyring --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
    tool --create-keyring $d/keyring/osd.0.keyring --gen-key -n osd.0 \
      --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd'
    tool --create-keyring $d/keyring/client.rgw.gw.keyring --gen-key -n client.rgw.gw \
      --cap mon 'allow rw' --cap osd 'allow rwx'
    for n in client.admin osd.0 client.rgw.gw; do
      tool $d/keyring/mon..keyring --import-keyring $d/keyring/$n.keyring
    done
    monmaptool -c $d/ceph.conf --create --fsid "$(cat $d/fsid)" --addv a "[v2:${address}:3300]" $d/monmap >/dev/null
    ceph-mon -c $d/ceph.conf --mkfs -i a --monmap $d/monmap --keyring $d/keyring/mon..keyring
    touch $d/mon/a/done
  '';

  # The OSD's first start: registered with the monitor, then its store made.
  osdSetup = program "ceph-osd-setup" ''
    #!/bin/bash
    set -euo pipefail
    d=${rgwDir}
    [ ! -e $d/osd/0/done ] || exit 0
    [ -s $d/osd-uuid ] || cat /proc/sys/kernel/random/uuid > $d/osd-uuid
    id=$(timeout 120 ceph -c $d/ceph.conf --connect-timeout 100 osd new "$(cat $d/osd-uuid)")
    [ "$id" = 0 ] || { echo "the OSD got id $id, not 0" >&2; exit 1; }
    rm -rf $d/osd/0 && mkdir -p $d/osd/0
    ceph-osd -c $d/ceph.conf -i 0 --mkfs --osd-uuid "$(cat $d/osd-uuid)"
    touch $d/osd/0/done
  '';

  waitFor = name: seconds: test: program "wait-${name}" ''
    #!/bin/bash
    for ((i = 0; i < ${toString (seconds * 10)}; i++)); do
      ${test} >/dev/null 2>&1 && exit 0
      sleep 0.1
    done
    echo "${name} did not answer within ${toString seconds} s" >&2
    exit 1
  '';

  # fedi's admin user, with the keys fedi delivered: radosgw-admin takes keys only on its
  # command line, so they go in through `metadata put` on stdin instead.
  rgwAdmin = accessKeyFile: secretKeyFile: program "rgw-admin-user" ''
    #!/bin/bash
    set -euo pipefail
    c=(-c ${rgwDir}/ceph.conf)
    radosgw-admin "''${c[@]}" user info --uid=fedi-admin >/dev/null 2>&1 ||
      radosgw-admin "''${c[@]}" user create --uid=fedi-admin --display-name="fedi (admin API)" \
        --caps="users=*;buckets=*" >/dev/null
    radosgw-admin "''${c[@]}" metadata get user:fedi-admin | /usr/bin/python3 -c '
    import json, sys
    meta = json.load(sys.stdin)
    access, secret = (open(f).read().strip() for f in sys.argv[1:3])
    meta["data"]["keys"] = [{"user": "fedi-admin", "access_key": access, "secret_key": secret}]
    json.dump(meta, sys.stdout)' ${accessKeyFile} ${secretKeyFile} |
      radosgw-admin "''${c[@]}" metadata put user:fedi-admin
    echo "fedi-admin has the keys fedi delivered"
  '';

  slapdDir = "/var/lib/slapd-demo";

  # The directory's first start: its CA and certificate, cn=config and the base entries.
  slapdSetup = { address, suffix, adminPasswordFile }: program "slapd-setup" ''
    #!/bin/bash
    set -euo pipefail
    d=${slapdDir}
    [ ! -e $d/done ] || exit 0
    rm -rf $d && mkdir -p $d/tls $d/data $d/slapd.d
    umask 077
    cd $d/tls
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=fedi demo LDAP CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${address}" \
      -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:${address}" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem 2>/dev/null
    chmod 644 ca.pem
    hash=$(slappasswd -h '{SSHA}' -T ${adminPasswordFile})
    {
      printf '%s\n' "dn: cn=config" "objectClass: olcGlobal" "cn: config" "olcLogLevel: none" \
        "olcTLSCACertificateFile: $d/tls/ca.pem" "olcTLSCertificateFile: $d/tls/server.pem" \
        "olcTLSCertificateKeyFile: $d/tls/server.key" "" \
        "dn: cn=module{0},cn=config" "objectClass: olcModuleList" "cn: module{0}" \
        "olcModulePath: /usr/lib/ldap" "olcModuleLoad: back_mdb" "" \
        "dn: cn=schema,cn=config" "objectClass: olcSchemaConfig" "cn: schema" ""
      for s in core cosine inetorgperson nis; do cat /etc/ldap/schema/$s.ldif; echo; done
      printf '%s\n' "dn: olcDatabase={-1}frontend,cn=config" "objectClass: olcDatabaseConfig" \
        "objectClass: olcFrontendConfig" "olcDatabase: {-1}frontend" "" \
        "dn: olcDatabase={0}config,cn=config" "objectClass: olcDatabaseConfig" \
        "olcDatabase: {0}config" "olcAccess: {0}to * by * none" "" \
        "dn: olcDatabase={1}mdb,cn=config" "objectClass: olcDatabaseConfig" \
        "objectClass: olcMdbConfig" "olcDatabase: {1}mdb" "olcDbDirectory: $d/data" \
        "olcDbMaxSize: 104857600" "olcSuffix: ${suffix}" "olcRootDN: cn=admin,${suffix}" \
        "olcRootPW: $hash" "olcDbIndex: objectClass eq" "olcDbIndex: uid,cn,mail eq" \
        "olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none" \
        "olcAccess: {1}to * by users read by * none"
    } > $d/config.ldif
    slapadd -n 0 -F $d/slapd.d -l $d/config.ldif
    dc=${builtins.head (builtins.match "dc=([^,]*),.*" suffix)}
    printf '%s\n' "dn: ${suffix}" "objectClass: dcObject" "objectClass: organization" \
      "dc: $dc" "o: $dc" > $d/base.ldif
    slapadd -n 1 -F $d/slapd.d -l $d/base.ldif
    touch $d/done
  '';

  ldapBind = { url, caFile, bindDN, passwordFile }: program "ldap-bind-check" ''
    #!/bin/bash
    set -euo pipefail
    LDAPTLS_CACERT=${caFile} ldapwhoami -x -H ${url} -D '${bindDN}' -y ${passwordFile}
  '';
in
{
  inherit standins;

  rgw = { address, accessKeyFile, secretKeyFile }: [
    {
      name = "ceph-demo-mon.service";
      text = ''
        [Unit]
        Description=Ceph monitor (the demo's single-node cluster)
        [Service]
        ExecStartPre=${cephSetup address}
        ExecStart=/usr/bin/ceph-mon -f -c ${rgwDir}/ceph.conf -i a
        ExecStartPost=${waitFor "ceph-mon" 60 "timeout 1 bash -c 'exec 3<>/dev/tcp/${address}/3300'"}
        Restart=on-failure
      '';
    }
    {
      name = "ceph-demo-osd.service";
      text = ''
        [Unit]
        Description=Ceph OSD 0 (memstore)
        Requires=ceph-demo-mon.service
        After=ceph-demo-mon.service
        [Service]
        ExecStartPre=${osdSetup}
        ExecStart=/usr/bin/ceph-osd -f -c ${rgwDir}/ceph.conf -i 0
        TimeoutStartSec=180
        Restart=on-failure
      '';
    }
    {
      name = "ceph-demo-radosgw.service";
      text = ''
        [Unit]
        Description=Ceph RADOS Gateway (S3) on ${address}:7480
        Requires=ceph-demo-osd.service
        After=ceph-demo-osd.service
        [Service]
        ExecStart=/usr/bin/radosgw -f -c ${rgwDir}/ceph.conf -n client.rgw.gw
        ExecStartPost=${waitFor "radosgw" 150 "curl -sf -o /dev/null http://${address}:7480/"}
        TimeoutStartSec=180
        Restart=on-failure
      '';
    }
    {
      name = "ceph-demo-admin-user.service";
      text = ''
        [Unit]
        Description=The RGW admin user fedi manages buckets and keys with
        Requires=ceph-demo-radosgw.service
        After=ceph-demo-radosgw.service
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=${rgwAdmin accessKeyFile secretKeyFile}
      '';
    }
  ];

  slapd = { address, suffix, adminPasswordFile }: [{
    name = "slapd-demo.service";
    text = ''
      [Unit]
      Description=OpenLDAP directory ${suffix} on ${address}
      [Service]
      ExecStartPre=${slapdSetup { inherit address suffix adminPasswordFile; }}
      ExecStart=/usr/sbin/slapd -d 0 -F ${slapdDir}/slapd.d -h "ldap://${address}/ ldaps://${address}/"
      ExecStartPost=${waitFor "slapd" 30 "timeout 1 bash -c 'exec 3<>/dev/tcp/${address}/636'"}
      Restart=on-failure
    '';
  }];

  s3Check = { machine, keyFile }: [{
    name = "demo-s3-check.service";
    text = ''
      [Unit]
      Description=Store and read back an object with ${machine}'s bucket key
      [Service]
      Type=oneshot
      RemainAfterExit=yes
      EnvironmentFile=${keyFile}
      ExecStart=${s3Client} demo/hello-from-${machine}.txt "hello from ${machine}"
    '';
  }];

  ldapCheck = { url, caFile, bindDN, passwordFile }: [{
    name = "demo-ldap-check.service";
    text = ''
      [Unit]
      Description=Bind to the directory as ${bindDN}
      [Service]
      Type=oneshot
      RemainAfterExit=yes
      ExecStart=${ldapBind { inherit url caFile bindDN passwordFile; }}
    '';
  }];

  adminTools = [{
    name = "demo-admin-tools.service";
    text = ''
      [Unit]
      Description=The services' admin commands (stand-ins) on root's PATH
      [Service]
      Type=oneshot
      RemainAfterExit=yes
      ExecStart=/bin/sh -c 'echo "export PATH=${standins}/bin:\$PATH" > /root/.bashrc'
    '';
  }];

  peertube = { environmentFile }: [{
    name = "peertube.service";
    text = ''
      [Unit]
      Description=PeerTube (stand-in: its first start makes root from PT_INITIAL_ROOT_PASSWORD)
      [Service]
      Type=oneshot
      RemainAfterExit=yes
      ExecStart=${standins}/bin/peertube-standin-start --environment-file ${environmentFile}
    '';
  }];
}
