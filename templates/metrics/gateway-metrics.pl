#!/usr/bin/perl
# swarm-platform's gateway metrics exporter (docs/metrics.md). Runs beside the engine in the gateway container,
# started and restarted by the entrypoint. Reads one access-log line per request from a FIFO (the engine writes
# every request there: nothing sampled), counts per route hostname, app and release, and serves the counts in the
# Prometheus text format on http://<container>:<port>/metrics. Its counters live in this process, so an engine
# reload (nginx SIGHUP, HAProxy SIGUSR2) does not reset them; a restart of this process does, and changes
# gateway_metrics_start_time_seconds.
#
# Only perl-base modules: every Debian-based gateway image has them, nothing is installed.
#
#   gateway-metrics.pl --engine nginx|haproxy --fifo PATH --routes PATH --port N
#                      [--haproxy-socket PATH] [--forward]      (HAProxy: its stats socket; copy lines to stdout)
#   gateway-metrics.pl --engine nginx|haproxy --routes PATH --parse FILE   (tests: count FILE, print the exposition)
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(:errno_h);
use Fcntl qw(O_RDWR O_NONBLOCK F_GETFL F_SETFL);

my @BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10);
my $F_SETPIPE_SZ = 1031;       # Linux fcntl: a 1 MiB pipe gives the engine room while this process is busy
my $PIPE_BYTES = 1 << 20;
my $SCRAPE_BYTES = 8192;       # a scrape request larger than this is refused
my $CLIENT_SECONDS = 5;        # a scraper that sends nothing for this long is dropped

my %opt = (engine => '', fifo => '', routes => '', port => 0, 'haproxy-socket' => '', parse => '', forward => 0);
while (@ARGV) {
    my $k = shift @ARGV;
    $k =~ s/^--// or die "gateway-metrics: unexpected argument $k\n";
    die "gateway-metrics: unknown option --$k\n" unless exists $opt{$k};
    $opt{$k} = $k eq 'forward' ? 1 : shift @ARGV;
}
die "gateway-metrics: --engine must be nginx or haproxy\n" unless $opt{engine} =~ /^(nginx|haproxy)$/;

# ---- counters -------------------------------------------------------------------------------------------
my %requests;       # "hostname\0app\0release\0code" => count
my %upstream;       # "hostname\0app\0release\0kind" => count
my %hist;           # "hostname\0app\0release" => [bucket counts..., +Inf count, sum]
my $unparsed = 0;   # lines that could not be counted
my %engine_dropped; # HAProxy worker pid => its DroppedLogs (the log lines it could not write to the FIFO)
my $start_time = time;

# ---- routes: backend name -> app/release, and the route hostnames (for HAProxy, which logs the Host) ---------
my %release_of;     # "svc.<service>" => "app\0release"; never forgotten (old workers log old backends)
my %exact_host;
my @wildcards;      # suffixes (".example.com") longest first
my $routes_seen = '';

sub read_routes {
    return unless $opt{routes};
    my @st = stat $opt{routes} or return;
    my $seen = "$st[9]:$st[7]:$st[1]";
    return if $seen eq $routes_seen;
    open(my $fh, '<', $opt{routes}) or return;
    my (%exact, @wild);
    while (my $line = <$fh>) {
        if ($line =~ /^# gateway-metrics backend (\S+) (\S+) (\S+)$/) {
            $release_of{$1} = "$2\0$3";
        } elsif ($line =~ /^# gateway-metrics hostname (\S+)$/) {
            my $h = $1;
            if ($h =~ /^\*(\..+)$/) { push @wild, $1 } else { $exact{$h} = 1 }
        }
    }
    close $fh;
    %exact_host = %exact;
    @wildcards = sort { length($b) <=> length($a) || $a cmp $b } @wild;
    $routes_seen = $seen;
}

# The route a Host took: exact names first, then the longest wildcard (both engines route so).
sub route_of_host {
    my ($host) = @_;
    return $host if $exact_host{$host};
    for my $suffix (@wildcards) {
        return "*$suffix" if length($host) > length($suffix) && substr($host, -length($suffix)) eq $suffix;
    }
    return '';
}

sub release_of_backend {
    my ($backend) = @_;
    return undef if $backend eq '' || $backend eq '-';
    if (!exists $release_of{$backend}) {
        read_routes();   # a route added since the last read
    }
    return $release_of{$backend};
}

sub code_class {
    my ($status) = @_;
    # HAProxy logs -1 when no answer was sent (client gone, connection rejected); nginx logs 499 and 444 for those.
    return '4xx' if $status < 100 || $status > 599;
    return int($status / 100) . 'xx';
}

# One request: its route hostname (or '' when it matched no route), the backend it went to ('' for none), status,
# seconds, and the upstream error kind ('' for none).
sub count_request {
    my ($route, $backend, $status, $seconds, $error) = @_;
    my $release = release_of_backend($backend);
    my ($app, $rel) = ('_none', '_none');   # the gateway answered itself (a redirect, a refusal)
    if (defined $release) {
        ($app, $rel) = split(/\0/, $release);
    } elsif ($backend ne '') {
        ($app, $rel) = ('_unknown', $backend);   # a backend the routes file does not name (never expected)
    }
    my $host = $route ne '' ? $route : ((defined $release) ? '_default' : '_unknown');
    my $series = "$host\0$app\0$rel";
    $requests{"$series\0" . code_class($status)}++;
    $upstream{"$series\0$error"}++ if $error ne '';
    my $h = $hist{$series} ||= [(0) x (@BUCKETS + 2)];
    $seconds = 0 if $seconds < 0;
    for my $i (0 .. $#BUCKETS) {
        if ($seconds <= $BUCKETS[$i]) { $h->[$i]++; last }
    }
    $h->[@BUCKETS]++;            # +Inf (the count)
    $h->[@BUCKETS + 1] += $seconds;
}

# nginx (log_format gateway_metrics): $server_name "$proxy_host" $status $request_time "$upstream_status"
# "$upstream_header_time". The last upstream attempt decides: no answer header and a 504 is a timeout, no answer
# header otherwise an error (a backend's own 502 has a header time).
sub parse_nginx {
    my ($line) = @_;
    return 0 unless $line =~ /^(\S+) "([^"]*)" (\d{3}) (\d+(?:\.\d+)?) "([^"]*)" "([^"]*)"$/;
    my ($server, $backend, $status, $seconds, $ustatus, $uheader) = ($1, $2, $3, $4, $5, $6);
    $backend = '' if $backend eq '-';
    my ($last_status) = $ustatus =~ /(\S+)\s*$/;
    my ($last_header) = $uheader =~ /(\S+)\s*$/;
    my $error = '';
    if ($backend ne '' && $status >= 500 && defined $last_header && $last_header eq '-') {
        $error = (defined $last_status && $last_status eq '504') ? 'timeout' : 'error';
    }
    count_request($server eq '_' ? '' : $server, $backend, $status, $seconds, $error);
    return 1;
}

# HAProxy (option httplog's fields, then the Host as routed): %b/%s, %Ta (ms), %ST, %tsc. The termination state's
# first letter: S = the server aborted, refused or sent an invalid answer (NOSRV: no task), s = a server timeout.
sub parse_haproxy {
    my ($line) = @_;
    # HAProxy's own events in the same log (a proxy started or stopped, a server down) are not requests.
    return 1 unless $line =~ m{^\S+ \[\d\d/\w{3}/\d{4}:};
    return 0 unless $line =~ m{^\S+ \[[^\]]*\] \S+ (\S+)/\S+ -?\d+/-?\d+/-?\d+/-?\d+/\+?(-?\d+) (-?\d+) \+?\d+ \S+ \S+ (\S{4}) .* (\S+)$};
    my ($backend, $ms, $status, $tsc, $host) = ($1, $2, $3, $4, $5);
    my $first = substr($tsc, 0, 1);
    my $error = $first eq 'S' ? 'error' : $first eq 's' ? 'timeout' : '';
    my $release = release_of_backend($backend);
    $backend = '' if !defined $release && $backend =~ /^(reject|https-redirect|http|https)$/;
    count_request($host eq '-' ? '' : route_of_host($host), $backend, $status, $ms / 1000, $error);
    return 1;
}

my $parse = $opt{engine} eq 'nginx' ? \&parse_nginx : \&parse_haproxy;

my $UNPARSED_SHOWN = 10;   # the first unreadable lines go to stderr (a changed log format shows at once)

sub count_line {
    my ($line) = @_;
    return if $line eq '';
    return if $parse->($line);
    $unparsed++;
    print STDERR "gateway-metrics: cannot count this line: $line\n" if $unparsed <= $UNPARSED_SHOWN;
}

# ---- exposition -----------------------------------------------------------------------------------------
sub label_value {
    my ($v) = @_;
    $v =~ s/\\/\\\\/g;
    $v =~ s/"/\\"/g;
    $v =~ s/\n/\\n/g;
    return $v;
}

sub labels {
    my ($names, $key) = @_;
    my @values = split(/\0/, $key, -1);
    return join(',', map { "$names->[$_]=\"" . label_value($values[$_]) . '"' } 0 .. $#$names);
}

# Seconds as a short decimal (the engines log milliseconds).
sub number {
    my $s = sprintf('%.6f', $_[0]);
    $s =~ s/\.?0+$//;
    return $s;
}

sub exposition {
    my @out;
    push @out, '# HELP gateway_requests_total Requests answered by the gateway, by route hostname, app, release and status class.';
    push @out, '# TYPE gateway_requests_total counter';
    push @out, 'gateway_requests_total{' . labels([qw(hostname app release code)], $_) . "} $requests{$_}" for sort keys %requests;
    push @out, '# HELP gateway_upstream_errors_total Requests the release did not answer: a connection error or a timeout towards its tasks.';
    push @out, '# TYPE gateway_upstream_errors_total counter';
    push @out, 'gateway_upstream_errors_total{' . labels([qw(hostname app release kind)], $_) . "} $upstream{$_}" for sort keys %upstream;
    push @out, '# HELP gateway_request_duration_seconds Time from the first byte of the request to the last byte of the answer.';
    push @out, '# TYPE gateway_request_duration_seconds histogram';
    for my $series (sort keys %hist) {
        my $l = labels([qw(hostname app release)], $series);
        my $h = $hist{$series};
        my $cumulative = 0;
        for my $i (0 .. $#BUCKETS) {
            $cumulative += $h->[$i];
            push @out, "gateway_request_duration_seconds_bucket{$l,le=\"$BUCKETS[$i]\"} $cumulative";
        }
        push @out, "gateway_request_duration_seconds_bucket{$l,le=\"+Inf\"} $h->[@BUCKETS]";
        push @out, "gateway_request_duration_seconds_sum{$l} " . number($h->[@BUCKETS + 1]);
        push @out, "gateway_request_duration_seconds_count{$l} $h->[@BUCKETS]";
    }
    my $dropped = $unparsed;
    $dropped += $_ for values %engine_dropped;
    push @out, '# HELP gateway_metrics_start_time_seconds When this exporter started counting (Unix time): a change means its counters restarted from 0.';
    push @out, '# TYPE gateway_metrics_start_time_seconds gauge';
    push @out, "gateway_metrics_start_time_seconds $start_time";
    push @out, '# HELP gateway_metrics_lines_dropped_total Requests not counted: log lines the engine could not write, or that could not be read.';
    push @out, '# TYPE gateway_metrics_lines_dropped_total counter';
    push @out, "gateway_metrics_lines_dropped_total $dropped";
    return join("\n", @out) . "\n";
}

# ---- test mode: count a file, print the exposition --------------------------------------------------------
if ($opt{parse} ne '') {
    read_routes();
    open(my $fh, '<', $opt{parse}) or die "gateway-metrics: $opt{parse}: $!\n";
    while (my $line = <$fh>) { chomp $line; count_line($line) }
    close $fh;
    $start_time = 0;
    print exposition();
    exit 0;
}

# ---- service ----------------------------------------------------------------------------------------------
die "gateway-metrics: --fifo and --port are required\n" unless $opt{fifo} ne '' && $opt{port} =~ /^\d+$/ && $opt{port} > 0;
$SIG{PIPE} = 'IGNORE';
$| = 1;
my $stopping = 0;
# On SIGTERM (the entrypoint, after the engine stopped): count and copy on the lines left in the FIFO, then exit.
$SIG{TERM} = sub { $stopping = 1 };
read_routes();

# O_RDWR: this process is a writer too, so a read never sees end-of-file while the engine reopens the FIFO.
sysopen(my $fifo, $opt{fifo}, O_RDWR | O_NONBLOCK) or die "gateway-metrics: $opt{fifo}: $!\n";
fcntl($fifo, $F_SETPIPE_SZ, $PIPE_BYTES);   # best effort: the default 64 kB still works, with less slack
my $fifo_capacity = fcntl($fifo, 1032, 0) || 65536;   # F_GETPIPE_SZ: what the pipe holds
my $listener = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $opt{port}, Proto => 'tcp', Listen => 64, ReuseAddr => 1)
    or die "gateway-metrics: cannot listen on port $opt{port}: $!\n";
$listener->blocking(0);
print STDERR "gateway-metrics: counting $opt{engine} requests from $opt{fifo}, serving :$opt{port}/metrics\n";

my $select = IO::Select->new($fifo, $listener);
my %clients;   # fileno => { sock, in, out, since }
my $pending = '';
# After a read the FIFO rests this long (out of the select): the engine's lines gather in the pipe and are read in
# one go, one wakeup per pause instead of one per request (HAProxy writes each line on its own).
my $FIFO_PAUSE = 0.1;
my $fifo_resting = 0;

# Reads everything the FIFO holds now, copies it on (--forward) and counts its whole lines; returns the bytes read.
sub read_fifo {
    my $total = 0;
    while (1) {
        my $n = sysread($fifo, my $chunk, $PIPE_BYTES);
        if (!defined $n) {
            next if $! == EINTR;
            last;    # EAGAIN: empty
        }
        last if $n == 0;
        $total += $n;
        print STDOUT $chunk if $opt{forward};
        $pending .= $chunk;
    }
    my $cut = rindex($pending, "\n");
    if ($cut >= 0) {
        count_line($_) for split(/\n/, substr($pending, 0, $cut));
        $pending = substr($pending, $cut + 1);
    }
    return $total;
}
my $last_poll = 0;

# HAProxy's own count of log lines it could not write (the FIFO full): DroppedLogs of the current worker, kept per
# worker pid, so the sum never goes down across reloads.
sub poll_haproxy_dropped {
    return if $opt{'haproxy-socket'} eq '';
    my $s = IO::Socket::UNIX->new(Peer => $opt{'haproxy-socket'}, Type => SOCK_STREAM) or return;
    print $s "show info\n";
    my ($answer, $buf) = ('', '');
    my $sel = IO::Select->new($s);
    while ($sel->can_read(1)) {
        my $n = sysread($s, $buf, 65536);
        last unless $n;
        $answer .= $buf;
    }
    close $s;
    my ($pid) = $answer =~ /^Pid: (\d+)$/m;
    my ($dropped) = $answer =~ /^DroppedLogs: (\d+)$/m;
    $engine_dropped{$pid} = $dropped if defined $pid && defined $dropped && $dropped >= ($engine_dropped{$pid} // 0);
}

sub drop_client {
    my ($fd) = @_;
    my $c = delete $clients{$fd} or return;
    $select->remove($c->{sock});
    close $c->{sock};
}

sub answer_client {
    my ($c) = @_;
    my ($method, $target) = $c->{in} =~ /^(\S+) (\S+) HTTP\/1\.[01]\r?\n/;
    my ($status, $type, $body);
    if (!defined $method) {
        ($status, $type, $body) = ('400 Bad Request', 'text/plain', "bad request\n");
    } elsif ($method ne 'GET' && $method ne 'HEAD') {
        ($status, $type, $body) = ('405 Method Not Allowed', 'text/plain', "GET /metrics\n");
    } elsif ($target =~ m{^/metrics(\?.*)?$}) {
        ($status, $type, $body) = ('200 OK', 'text/plain; version=0.0.4; charset=utf-8', exposition());
    } else {
        ($status, $type, $body) = ('404 Not Found', 'text/plain', "GET /metrics\n");
    }
    $c->{out} = "HTTP/1.1 $status\r\nContent-Type: $type\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n";
    $c->{out} .= $body if defined $method && $method ne 'HEAD';
}

while (1) {
    my @writable = grep { $_->{out} ne '' } values %clients;
    my ($readable, $can_write) = IO::Select->select($select, IO::Select->new(map { $_->{sock} } @writable), undef, $fifo_resting ? $FIFO_PAUSE : 1);
    if ($stopping) {
        read_fifo();
        exit 0;
    }
    if ($fifo_resting) {
        $fifo_resting = 0;
        $select->add($fifo);
    }
    for my $fh (@{ $readable || [] }) {
        if ($fh == $fifo) {
            # A pipe found half full does not rest: the pause would overflow it.
            if (read_fifo() < $fifo_capacity / 2) {
                $fifo_resting = 1;
                $select->remove($fifo);
            }
        } elsif ($fh == $listener) {
            while (my $sock = $listener->accept) {
                $sock->blocking(0);
                $clients{ fileno($sock) } = { sock => $sock, in => '', out => '', since => time };
                $select->add($sock);
            }
        } else {
            my $c = $clients{ fileno($fh) } or next;
            my $n = sysread($fh, my $buf, 4096);
            if (!defined $n) { drop_client(fileno($fh)) unless $! == EAGAIN; next }
            if ($n == 0) { drop_client(fileno($fh)); next }
            $c->{in} .= $buf;
            if ($c->{in} =~ /\r?\n\r?\n/) { $select->remove($fh); answer_client($c) }
            elsif (length($c->{in}) > $SCRAPE_BYTES) { $c->{in} = ''; answer_client($c) }
        }
    }
    for my $fh (@{ $can_write || [] }) {
        my $c = $clients{ fileno($fh) } or next;
        my $n = syswrite($fh, $c->{out});
        if (!defined $n) { drop_client(fileno($fh)) unless $! == EAGAIN; next }
        substr($c->{out}, 0, $n) = '';
        drop_client(fileno($fh)) if $c->{out} eq '';
    }
    my $now = time;
    for my $fd (keys %clients) { drop_client($fd) if $now - $clients{$fd}{since} > $CLIENT_SECONDS }
    if ($now != $last_poll) {
        $last_poll = $now;
        poll_haproxy_dropped() if $opt{engine} eq 'haproxy';
        read_routes();
    }
}
