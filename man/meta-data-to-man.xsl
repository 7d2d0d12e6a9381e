<?xml version="1.0"?>
<!--
  man/meta-data-to-man.xsl: turns an OCF resource agent's meta-data (OCF 1.1,
  `pgsql-ra meta-data`) into a section-7 man page in roff, the way
  resource-agents ships ocf_heartbeat_<agent>(7) generated from its agents'
  meta-data.  Run by the Makefile (target `man`):

    pgsql-ra meta-data | xsltproc -nonet -novalid \
        -stringparam provider pgsql-ra -stringparam date 2026-11-30 \
        man/meta-data-to-man.xsl - > ocf_pgsql-ra_pgsql.7

  Parameters: provider (the OCF provider directory), date (of the page, for a
  reproducible build the date of the last commit), version (defaults to the
  meta-data's version attribute).
  Roff safety: every text from the meta-data goes through `text`, which
  escapes backslashes and protects lines that would start with a control
  character ('.' or an apostrophe).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:strip-space elements="*"/>

  <xsl:param name="provider" select="'pgsql-ra'"/>
  <xsl:param name="date" select="''"/>
  <xsl:param name="version" select="/resource-agent/@version"/>

  <xsl:variable name="nl" select="'&#10;'"/>
  <xsl:variable name="agent" select="/resource-agent/@name"/>
  <xsl:variable name="page" select="concat('ocf_', $provider, '_', $agent)"/>

  <!-- ================================================================ page -->
  <xsl:template match="/resource-agent">
    <xsl:text>.\" Generated from the agent's meta-data by man/meta-data-to-man.xsl; do not edit.&#10;</xsl:text>
    <xsl:text>.TH "</xsl:text>
    <xsl:variable name="title">
      <xsl:call-template name="upper"><xsl:with-param name="s" select="$page"/></xsl:call-template>
    </xsl:variable>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$title"/></xsl:call-template>
    <xsl:text>" "7" "</xsl:text><xsl:value-of select="$date"/>
    <xsl:text>" "pgsql-ra </xsl:text><xsl:value-of select="$version"/>
    <xsl:text>" "OCF resource agents"&#10;</xsl:text>
    <xsl:text>.ad l&#10;.nh&#10;</xsl:text>

    <xsl:text>.SH "NAME"&#10;</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$page"/></xsl:call-template>
    <xsl:text> \- </xsl:text>
    <xsl:call-template name="text"><xsl:with-param name="s" select="normalize-space(shortdesc)"/></xsl:call-template>
    <xsl:value-of select="$nl"/>

    <xsl:text>.SH "SYNOPSIS"&#10;</xsl:text>
    <xsl:for-each select="parameters/parameter">
      <xsl:if test="not(@required = '1')"><xsl:text>[</xsl:text></xsl:if>
      <xsl:text>OCF_RESKEY_</xsl:text>
      <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
      <xsl:text>=\fI</xsl:text><xsl:value-of select="content/@type"/><xsl:text>\fR</xsl:text>
      <xsl:if test="not(@required = '1')"><xsl:text>]</xsl:text></xsl:if>
      <xsl:value-of select="$nl"/>
    </xsl:for-each>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$agent"/></xsl:call-template>
    <xsl:text> [</xsl:text>
    <xsl:for-each select="actions/action[not(@name = preceding-sibling::action/@name)]">
      <xsl:if test="position() &gt; 1"><xsl:text> | </xsl:text></xsl:if>
      <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
    </xsl:for-each>
    <xsl:text>]&#10;</xsl:text>

    <xsl:text>.SH "DESCRIPTION"&#10;</xsl:text>
    <xsl:call-template name="paragraphs"><xsl:with-param name="s" select="longdesc"/></xsl:call-template>

    <xsl:text>.SH "SUPPORTED PARAMETERS"&#10;</xsl:text>
    <xsl:apply-templates select="parameters/parameter"/>

    <xsl:text>.SH "SUPPORTED ACTIONS"&#10;</xsl:text>
    <xsl:text>.PP&#10;This resource agent supports the following actions (operations):&#10;</xsl:text>
    <xsl:apply-templates select="actions/action"/>

    <xsl:call-template name="examples"/>

    <xsl:text>.SH "FILES"&#10;</xsl:text>
    <xsl:text>.TP&#10;/usr/lib/ocf/resource.d/</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="concat($provider, '/', $agent)"/></xsl:call-template>
    <xsl:text>&#10;The agent, called by Pacemaker as ocf:</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="concat($provider, ':', $agent)"/></xsl:call-template>
    <xsl:text>.&#10;.TP&#10;/usr/share/doc/pgsql\-ra/&#10;</xsl:text>
    <xsl:text>Operator guides: migration from ocf:heartbeat:pgsql, troubleshooting, runbook, parameters, decision logic.&#10;</xsl:text>
    <xsl:text>.TP&#10;/usr/share/doc/pgsql\-ra/THIRD\-PARTY\-LICENSES&#10;</xsl:text>
    <xsl:text>The Rust crates linked into the agent, each with its version, declared licence and licence texts.&#10;</xsl:text>

    <xsl:text>.SH "SEE ALSO"&#10;</xsl:text>
    <xsl:text>\fBocf_heartbeat_pgsql\fR(7), \fBpcs\fR(8), \fBcrm\fR(8), \fBcrm_mon\fR(8), \fBcrm_resource\fR(8), \fBcibadmin\fR(8)&#10;</xsl:text>

    <xsl:text>.SH "AUTHOR"&#10;</xsl:text>
    <xsl:text>The pgsql\-ra contributors.&#10;</xsl:text>
  </xsl:template>

  <!-- =========================================================== parameter -->
  <xsl:template match="parameter">
    <xsl:text>.PP&#10;\fB</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
    <xsl:text>\fR&#10;.RS 4&#10;</xsl:text>
    <xsl:call-template name="text"><xsl:with-param name="s" select="normalize-space(shortdesc)"/></xsl:call-template>
    <xsl:text>.&#10;.sp&#10;</xsl:text>
    <xsl:call-template name="paragraphs"><xsl:with-param name="s" select="longdesc"/></xsl:call-template>
    <xsl:text>.sp&#10;(</xsl:text>
    <xsl:if test="@unique = '1'"><xsl:text>unique, </xsl:text></xsl:if>
    <xsl:choose>
      <xsl:when test="@required = '1'"><xsl:text>required, </xsl:text></xsl:when>
      <xsl:otherwise><xsl:text>optional, </xsl:text></xsl:otherwise>
    </xsl:choose>
    <xsl:if test="@reloadable = '1'"><xsl:text>reloadable, </xsl:text></xsl:if>
    <xsl:if test="deprecated"><xsl:text>deprecated, </xsl:text></xsl:if>
    <xsl:value-of select="content/@type"/>
    <xsl:choose>
      <xsl:when test="content/@default = ''"><xsl:text>, no default</xsl:text></xsl:when>
      <xsl:when test="content/@default">
        <xsl:text>, default \(lq</xsl:text>
        <xsl:call-template name="word"><xsl:with-param name="s" select="content/@default"/></xsl:call-template>
        <xsl:text>\(rq</xsl:text>
      </xsl:when>
    </xsl:choose>
    <xsl:text>)&#10;.RE&#10;</xsl:text>
  </xsl:template>

  <!-- ============================================================== action -->
  <xsl:template match="action">
    <xsl:text>.PP&#10;\fB</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
    <xsl:text>\fR</xsl:text>
    <xsl:if test="@role"><xsl:text> (</xsl:text><xsl:value-of select="@role"/><xsl:text> role)</xsl:text></xsl:if>
    <xsl:text>&#10;.RS 4&#10;</xsl:text>
    <xsl:choose>
      <xsl:when test="@name = 'start'">Starts PostgreSQL (as a standby when replication is configured).</xsl:when>
      <xsl:when test="@name = 'stop'">Stops PostgreSQL.</xsl:when>
      <xsl:when test="@name = 'status'">Reports whether PostgreSQL runs.</xsl:when>
      <xsl:when test="@name = 'monitor' and @role">Checks the primary and publishes the replication state of every standby.</xsl:when>
      <xsl:when test="@name = 'monitor'">Checks the server and publishes its replication state and promotion score.</xsl:when>
      <xsl:when test="@name = 'promote'">Makes this node the primary.</xsl:when>
      <xsl:when test="@name = 'demote'">Stops the primary so that it can come back as a standby.</xsl:when>
      <xsl:when test="@name = 'notify'">Reacts to the clone's other instances being started, stopped, promoted or demoted.</xsl:when>
      <xsl:when test="@name = 'reload-agent'">Takes changed reloadable parameters into account without a restart.</xsl:when>
      <xsl:when test="@name = 'meta-data'">Prints the agent's meta-data (the source of this page).</xsl:when>
      <xsl:when test="@name = 'validate-all'">Checks the parameters and the installation.</xsl:when>
      <xsl:when test="@name = 'methods'">Lists the supported actions.</xsl:when>
      <xsl:otherwise>Performs the action.</xsl:otherwise>
    </xsl:choose>
    <xsl:text> Suggested minimum timeout: </xsl:text><xsl:value-of select="@timeout"/><xsl:text>.</xsl:text>
    <xsl:if test="@interval">
      <xsl:text> Suggested interval: </xsl:text><xsl:value-of select="@interval"/><xsl:text>.</xsl:text>
    </xsl:if>
    <xsl:text>&#10;.RE&#10;</xsl:text>
  </xsl:template>

  <!-- ============================================================ examples -->
  <xsl:template name="examples">
    <xsl:text>.SH "EXAMPLE PCS"&#10;</xsl:text>
    <xsl:text>.PP&#10;A promotable clone with the suggested operation timeouts (pcs 0.10 and later); add the parameters your setup needs:&#10;</xsl:text>
    <xsl:text>.PP&#10;.nf&#10;.RS 4&#10;pcs resource create p_</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$agent"/></xsl:call-template>
    <xsl:text> ocf:</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="concat($provider, ':', $agent)"/></xsl:call-template>
    <xsl:text> \e&#10;</xsl:text>
    <xsl:for-each select="parameters/parameter[@required = '1']">
      <xsl:text>  </xsl:text>
      <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
      <xsl:text>=</xsl:text><xsl:value-of select="content/@type"/><xsl:text> \e&#10;</xsl:text>
    </xsl:for-each>
    <xsl:for-each select="actions/action[@name = 'start' or @name = 'stop' or @name = 'promote' or @name = 'demote' or @name = 'notify' or @name = 'monitor']">
      <xsl:text>  op </xsl:text>
      <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
      <xsl:text> timeout=</xsl:text><xsl:value-of select="@timeout"/>
      <xsl:if test="@interval"><xsl:text> interval=</xsl:text><xsl:value-of select="@interval"/></xsl:if>
      <xsl:if test="@role"><xsl:text> role=</xsl:text><xsl:value-of select="@role"/></xsl:if>
      <xsl:text> \e&#10;</xsl:text>
    </xsl:for-each>
    <xsl:text>  promotable notify=true promoted\-max=1&#10;.RE&#10;.fi&#10;</xsl:text>

    <xsl:text>.SH "EXAMPLE CRM SHELL"&#10;</xsl:text>
    <xsl:text>.PP&#10;.nf&#10;.RS 4&#10;primitive p_</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$agent"/></xsl:call-template>
    <xsl:text> ocf:</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="concat($provider, ':', $agent)"/></xsl:call-template>
    <xsl:text> \e&#10;</xsl:text>
    <xsl:if test="parameters/parameter[@required = '1']">
      <xsl:text>  params</xsl:text>
      <xsl:for-each select="parameters/parameter[@required = '1']">
        <xsl:text> </xsl:text>
        <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
        <xsl:text>=</xsl:text><xsl:value-of select="content/@type"/>
      </xsl:for-each>
      <xsl:text> \e&#10;</xsl:text>
    </xsl:if>
    <xsl:for-each select="actions/action[@name = 'start' or @name = 'stop' or @name = 'promote' or @name = 'demote' or @name = 'notify' or @name = 'monitor']">
      <xsl:text>  op </xsl:text>
      <xsl:call-template name="word"><xsl:with-param name="s" select="@name"/></xsl:call-template>
      <xsl:text> timeout=</xsl:text><xsl:value-of select="@timeout"/>
      <xsl:if test="@interval"><xsl:text> interval=</xsl:text><xsl:value-of select="@interval"/></xsl:if>
      <xsl:if test="@role"><xsl:text> role=</xsl:text><xsl:value-of select="@role"/></xsl:if>
      <xsl:if test="position() != last()"><xsl:text> \e</xsl:text></xsl:if>
      <xsl:value-of select="$nl"/>
    </xsl:for-each>
    <xsl:text>clone ms_</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$agent"/></xsl:call-template>
    <xsl:text> p_</xsl:text>
    <xsl:call-template name="word"><xsl:with-param name="s" select="$agent"/></xsl:call-template>
    <xsl:text> \e&#10;  meta promotable=true notify=true promoted\-max=1&#10;.RE&#10;.fi&#10;</xsl:text>
  </xsl:template>

  <!-- ============================================================= helpers -->
  <!-- paragraphs: text whose blank lines separate paragraphs; each paragraph
       filled by roff, separated by .PP -->
  <xsl:template name="paragraphs">
    <xsl:param name="s"/>
    <xsl:param name="open" select="false()"/>
    <xsl:variable name="line">
      <xsl:choose>
        <xsl:when test="contains($s, $nl)"><xsl:value-of select="substring-before($s, $nl)"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="rest" select="substring-after($s, $nl)"/>
    <xsl:variable name="t" select="normalize-space($line)"/>
    <xsl:if test="$t != ''">
      <xsl:if test="not($open)"><xsl:text>.PP&#10;</xsl:text></xsl:if>
      <xsl:call-template name="text"><xsl:with-param name="s" select="$t"/></xsl:call-template>
      <xsl:value-of select="$nl"/>
    </xsl:if>
    <xsl:if test="contains($s, $nl)">
      <xsl:call-template name="paragraphs">
        <xsl:with-param name="s" select="$rest"/>
        <xsl:with-param name="open" select="$t != ''"/>
      </xsl:call-template>
    </xsl:if>
  </xsl:template>

  <!-- text: one line of prose; backslashes escaped, a leading control character protected -->
  <xsl:template name="text">
    <xsl:param name="s"/>
    <xsl:if test="starts-with($s, '.') or starts-with($s, &quot;'&quot;)"><xsl:text>\&amp;</xsl:text></xsl:if>
    <xsl:call-template name="replace">
      <xsl:with-param name="s" select="$s"/>
      <xsl:with-param name="from" select="'\'"/>
      <xsl:with-param name="to" select="'\e'"/>
    </xsl:call-template>
  </xsl:template>

  <!-- word: a name, path or value typed literally: also '-' as \- (a minus, not a hyphen) -->
  <xsl:template name="word">
    <xsl:param name="s"/>
    <xsl:variable name="e">
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="$s"/>
        <xsl:with-param name="from" select="'\'"/>
        <xsl:with-param name="to" select="'\e'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:call-template name="replace">
      <xsl:with-param name="s" select="$e"/>
      <xsl:with-param name="from" select="'-'"/>
      <xsl:with-param name="to" select="'\-'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="s"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($s, $from)">
        <xsl:value-of select="substring-before($s, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="s" select="substring-after($s, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="upper">
    <xsl:param name="s"/>
    <xsl:value-of select="translate($s, 'abcdefghijklmnopqrstuvwxyz-', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ-')"/>
  </xsl:template>
</xsl:stylesheet>
